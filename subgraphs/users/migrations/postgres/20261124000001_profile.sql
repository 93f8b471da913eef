-- A person's profile. The id is issued by auth at sign-up; this subgraph owns the rest.
create table profile (
    user_id text primary key check (user_id like 'usr\_%'),
    display_name text not null check (length(display_name) between 1 and 64),
    created_at_ms bigint not null,
    updated_at_ms bigint not null
);
