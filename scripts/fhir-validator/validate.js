// Validate FHIR JSON files against the FHIR R4 structure definitions bundled with the `fhir` package
// (FHIR.js, Lantana Consulting Group), offline. Usage: node validate.js FILE.json [...]
// Prints one JSON object per file: {"file", "valid", "messages": [{"location", "severity", "message"}]}.
// Exit status 0 when every file is valid, 1 otherwise.
"use strict";
const fs = require("fs");
const { Fhir } = require("fhir");

const fhir = new Fhir();
let allValid = true;
for (const file of process.argv.slice(2)) {
  const resource = JSON.parse(fs.readFileSync(file, "utf8"));
  const result = fhir.validate(resource, { errorOnUnexpected: true });
  const errors = result.messages.filter((m) => m.severity === "error");
  const valid = result.valid && errors.length === 0;
  allValid = allValid && valid;
  console.log(JSON.stringify({ file, valid, messages: result.messages }));
}
process.exit(allValid ? 0 : 1);
