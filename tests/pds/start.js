// The reference Bluesky PDS for the connector tests: a PLC directory in memory, then the PDS
// with its real rate limits, both on loopback, data in the folder given as the only argument.
// Prints one JSON line ({"url": ..., "plc": ..., "admin_password": ...}) once both listen, and
// runs until stdin closes (so a test run that dies never leaves it behind).
'use strict'
const crypto = require('node:crypto')
const net = require('node:net')
const path = require('node:path')

// Both servers call listen(port) and so would listen on every interface: keep them on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  return listen.apply(this, args)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

async function main() {
  const dataDir = process.argv[2]
  if (!dataDir) throw new Error('usage: node start.js DATA_DIRECTORY')
  const plc = require('@did-plc/server')
  const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')

  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: await freePort() })
  await plcServer.start()
  const plcUrl = `http://127.0.0.1:${plcServer.server.address().port}`

  const port = await freePort()
  const adminPassword = crypto.randomBytes(16).toString('hex')
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(port),
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_SERVICE_HANDLE_DOMAINS: '.test',
    PDS_DID_PLC_URL: plcUrl,
    PDS_DATA_DIRECTORY: dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
    PDS_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
    // No AppView exists here; a port nothing listens on makes any proxied call fail fast.
    PDS_BSKY_APP_VIEW_URL: 'http://127.0.0.1:9',
    PDS_BSKY_APP_VIEW_DID: 'did:example:no-appview',
    // The limits a real PDS applies (createSession: 30 per 5 minutes, 300 a day per account).
    PDS_RATE_LIMITS_ENABLED: 'true',
  })
  const env = readEnv()
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  await pds.start()

  const stop = async () => {
    await pds.destroy()
    await plcServer.destroy()
    process.exit(0)
  }
  process.stdin.on('end', stop).on('close', stop).resume()
  process.on('SIGTERM', stop)
  process.stdout.write(JSON.stringify({ url: `http://localhost:${port}`, plc: plcUrl, admin_password: adminPassword }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
