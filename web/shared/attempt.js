// Idempotency keys for money-moving mutations. A key is made once per attempt — one
// person's intent to move one amount — and sent again on every retry of that attempt, so
// that a retry after a lost answer returns the first result instead of moving money
// twice. A changed input is a new attempt; so is anything after an answer that settled
// the attempt (success, or a refusal that a retry would not change).
export function createAttempt() {
  let current = null;
  return {
    /** The key for this input: the same one until the attempt is settled. */
    key(input) {
      const fingerprint = JSON.stringify(input);
      if (!current || current.fingerprint !== fingerprint) {
        current = { fingerprint, key: crypto.randomUUID() };
      }
      return current.key;
    },
    /** The attempt got a definite answer; the next press is a new attempt. */
    settle() {
      current = null;
    },
  };
}
