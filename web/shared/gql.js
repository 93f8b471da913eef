// Marks a GraphQL document. Documents stay static literals beside the screen that sends
// them (no interpolation), so that a build step can later extract every one of them into
// the router's persisted-document manifest.
export function gql(strings, ...values) {
  if (values.length > 0) throw new Error('gql documents are static: no ${} inside');
  return strings.raw.join('').replace(/\s+/g, ' ').trim();
}
