-- Admin sessions are sessions of kind `admin`, bound to the fingerprint in the admin's
-- `__Host-` cookie (its SHA-256, base64url); they have no refresh tokens.
alter table session add column kind text not null default 'user' check (kind in ('user', 'admin'));
alter table session add column fingerprint_hash text;
