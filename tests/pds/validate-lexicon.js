// Validates values against the official Lexicon documents with @atproto/lexicon (the PDS's own
// validator). Usage: node validate-lexicon.js LEXICON_DIRECTORY < checks.json, where checks is a
// list of {"kind": "record" | "input" | "params" | "output", "nsid": ..., "value": ...} (params:
// a query's parameters, typed as the lexicon says; output: its JSON answer). Prints a list of the same
// length: null for a valid value, else the validator's message.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { Lexicons, jsonToLex } = require('@atproto/lexicon')

function documents(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return documents(full)
    return entry.name.endsWith('.json') ? [JSON.parse(fs.readFileSync(full, 'utf8'))] : []
  })
}

const lexicons = new Lexicons(documents(process.argv[2]))
const checks = JSON.parse(fs.readFileSync(0, 'utf8'))
const results = checks.map(({ kind, nsid, value }) => {
  try {
    // JSON as the PDS reads it: a blob ({"$type": "blob", "ref": {"$link": CID}}) becomes a BlobRef.
    if (kind === 'record') lexicons.assertValidRecord(nsid, jsonToLex(value))
    else if (kind === 'input') lexicons.assertValidXrpcInput(nsid, jsonToLex(value))
    else if (kind === 'params') lexicons.assertValidXrpcParams(nsid, value)
    else if (kind === 'output') lexicons.assertValidXrpcOutput(nsid, jsonToLex(value))
    else throw new Error(`unknown kind ${kind}`)
    return null
  } catch (err) {
    return err.message
  }
})
process.stdout.write(JSON.stringify(results) + '\n')
