// A real OpenID Connect provider (oidc-provider 9) for the sign-in tests, on loopback.
//
//   node start.js CONFIG.json
//
// CONFIG (every key optional):
//   port          0 (default) picks a free port; the provider listens on 127.0.0.1 only
//   issuer_path   e.g. "/tenant-a/v2.0" to mimic Entra's tenant issuer; discovery and every
//                 endpoint then live under it (http://127.0.0.1:PORT/tenant-a/v2.0/...)
//   clients       [{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                   token_endpoint_auth_method: "client_secret_post" | "client_secret_basic"}]
//   users         {sub: {email, name, roles: [...], groups: [...], amr: [...], acr: "..."}}
//   ttl           seconds, e.g. {"IdToken": 3600, "AccessToken": 3600, "AuthorizationCode": 60}
//   acr_values    the acr values the provider advertises (acr is in the id_token only if some are)
//   clock_tolerance  seconds a token outlives its exp at the provider (0 here; oidc-provider's own default is 15)
//
// Prints one JSON line ({"issuer": ..., "url": ..., "port": ...}) once it listens, and runs until
// stdin closes (so a test run that dies never leaves it behind).
//
// Sign-in has no pages: the interaction URL signs in at once, with consent implied, as the user
// named by (first found) the X-Test-User header or ?user= on the interaction URL, the request's
// login_hint, or the one-shot "next user" set at /_test/next-user. Test-only endpoints (JSON):
//   PUT  /_test/users           {sub: {claims...}}  sets (replaces) each named person's claims
//   DELETE /_test/users/SUB     the person is gone from the directory
//   POST /_test/next-user       {"sub": "..."}      who signs in at the next interaction
//   POST /_test/clients         client metadata     registers (or replaces) a client
//   POST /_test/rotate-keys     {"keep_previous": true} a new signing key, first in the JWKS
//   POST /_test/ttl             {"IdToken": 2, ...} token lifetimes from now on
//   GET  /_test/state           users, clients, kids, lifetimes and requests per path (hits), for a
//                               test's own eyes
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')

// Claims by scope. roles, groups, oid and tid come with openid, as Entra puts them in every id_token;
// so do amr and acr (which oidc-provider would otherwise add only when the request asks for them),
// whose values come from the sign-in rather than the directory.
const CLAIMS = {
  openid: ['sub', 'amr', 'acr', 'roles', 'groups', 'oid', 'tid'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name'],
}
const SESSION_ONLY = new Set(['amr', 'acr'])  // how the person signed in, not who they are
const DEFAULT_TTL = { AccessToken: 3600, IdToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 }

function newKey(serial) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `test-key-${serial}-${crypto.randomBytes(4).toString('hex')}`
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      try {
        resolve(text ? JSON.parse(text) : {})
      } catch (err) {
        reject(err)
      }
    })
    req.on('error', reject)
  })
}

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' })
  res.end(text)
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

async function main() {
  const configPath = process.argv[2]
  const config = configPath ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {}
  const { Provider, interactionPolicy } = await import('oidc-provider')

  const issuerPath = (config.issuer_path || '').replace(/\/+$/, '')
  if (issuerPath && !issuerPath.startsWith('/')) throw new Error('issuer_path must start with "/"')
  const state = {
    users: { ...(config.users || {}) },
    clients: new Map((config.clients || []).map((c) => [c.client_id, c])),
    ttl: { ...DEFAULT_TTL, ...(config.ttl || {}) },
    keys: [newKey(1)],
    keySerial: 1,
    nextUser: null,
    hits: {},  // requests per provider path (relative to the issuer), e.g. {"/jwks": 2}
  }
  const cookieKeys = [crypto.randomBytes(32).toString('hex')]

  const server = http.createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port || 0, '127.0.0.1', resolve)
  })
  const { port } = server.address()
  const url = `http://127.0.0.1:${port}`
  const issuer = url + issuerPath

  function configuration() {
    const ttl = Object.fromEntries(Object.keys(DEFAULT_TTL).map((name) => [name, () => state.ttl[name]]))
    return {
      clients: [...state.clients.values()].map((c) => ({ ...c })),
      jwks: { keys: state.keys.map((k) => ({ ...k })) },
      cookies: { keys: cookieKeys },
      claims: CLAIMS,
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      acrValues: config.acr_values || ['urn:lockdown:test:password', 'urn:lockdown:test:mfa', '0', '1'],
      // The claims of the scopes asked for go into the id_token too, not only to userinfo.
      conformIdTokenClaims: false,
      responseTypes: ['code'],
      pkce: { required: () => true },
      // Expiry exactly at exp (oidc-provider allows 15 s by default), so a short lifetime test is short.
      clockTolerance: config.clock_tolerance || 0,
      ttl,
      features: {
        devInteractions: { enabled: false },
        userinfo: { enabled: true },
        revocation: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          // The provider's own confirmation form, submitted at once (a browser test needs no
          // clicks); Oidc.sign_out in server.py posts the same form.
          logoutSource(ctx, form) {
            ctx.type = 'html'
            ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>${form.replace(
              '</form>',
              '<input type="hidden" name="logout" value="yes"/></form>',
            )}<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript>` +
              '<script>document.getElementById("op.logoutForm").submit()</script></body></html>'
          },
          postLogoutSuccessSource(ctx) {
            ctx.type = 'html'
            ctx.body = '<!DOCTYPE html><html><head><title>Signed out</title></head><body>Signed out</body></html>'
          },
        },
      },
      interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}`, policy: policy() },
      // Consent is implied: the grant covers whatever the client asked for.
      async loadExistingGrant(ctx) {
        const { oidc } = ctx
        const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId)
        let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined
        if (!grant || grant.accountId !== oidc.session.accountId) {
          grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId })
        }
        grant.addOIDCScope([...oidc.requestParamScopes].join(' '))
        if (oidc.requestParamClaims.size) grant.addOIDCClaims([...oidc.requestParamClaims])
        await grant.save()
        return grant
      },
      async findAccount(ctx, sub) {
        if (!state.users[sub]) return undefined
        return {
          accountId: sub,
          // Read when each token is made: a change at /_test/users shows in the next one.
          async claims() {
            const person = state.users[sub] || {}
            const claims = Object.fromEntries(Object.entries(person).filter(([k]) => !SESSION_ONLY.has(k)))
            return { ...claims, sub }
          },
        }
      },
      renderError(ctx, out) {
        ctx.type = 'text'
        ctx.body = `${out.error}: ${out.error_description || ''}\n`
      },
    }
  }

  // The default prompts, and one more reason to sign in again though a session exists: the request
  // names someone else (its login_hint, or the X-Test-User header the Python helper sends).
  function policy() {
    const prompts = interactionPolicy.base()
    const { Check } = interactionPolicy
    prompts.get('login').checks.push(new Check('test_other_user', 'the request names another user', (ctx) => {
      const wanted = ctx.get('x-test-user') || ctx.oidc.params.login_hint
      const current = ctx.oidc.session.accountId
      if (wanted && current && wanted !== current && !ctx.oidc.result?.login) return Check.REQUEST_PROMPT
      return Check.NO_NEED_TO_PROMPT
    }))
    return prompts
  }

  let provider
  let handle
  async function build(checkClient) {
    const candidate = new Provider(issuer, configuration())
    candidate.proxy = false
    candidate.on('server_error', (ctx, err) => console.error('server_error', err))
    if (checkClient) await candidate.Client.find(checkClient)  // validates its metadata now
    provider = candidate
    handle = candidate.callback()
  }
  await build()

  async function interaction(req, res, uid) {
    const details = await provider.interactionDetails(req, res)
    if (details.uid !== uid) return send(res, 400, 'interaction cookie does not match the URL')
    const query = new URL(req.url, url).searchParams
    if (details.prompt.name === 'login') {
      const sub = req.headers['x-test-user'] || query.get('user') || details.params.login_hint || state.nextUser
      state.nextUser = null
      if (!sub) {
        return send(res, 400, 'no user to sign in: give login_hint, X-Test-User or POST /_test/next-user first')
      }
      const person = state.users[sub]
      if (!person) {
        return provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: `no such user at the test provider: ${sub}`,
        }, { mergeWithLastSubmission: false })
      }
      const login = { accountId: sub }
      if (person.amr) login.amr = person.amr
      if (person.acr) login.acr = person.acr
      return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false })
    }
    // Consent is implied by loadExistingGrant; should the provider still ask, grant what was asked.
    const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId })
    grant.addOIDCScope(String(details.params.scope || 'openid'))
    const grantId = await grant.save()
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
  }

  async function admin(req, res, path) {
    const method = req.method
    if (method === 'GET' && path === '/state') {
      return send(res, 200, {
        issuer,
        users: state.users,
        clients: [...state.clients.keys()],
        kids: state.keys.map((k) => k.kid),
        ttl: state.ttl,
        next_user: state.nextUser,
        hits: state.hits,
      })
    }
    if (method === 'PUT' && path === '/users') {
      const body = await readBody(req)
      for (const [sub, claims] of Object.entries(body)) {
        if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
          return send(res, 400, { error: `claims of ${sub} must be an object` })
        }
      }
      Object.assign(state.users, body)
      return send(res, 200, { users: Object.keys(state.users) })
    }
    if (method === 'DELETE' && path.startsWith('/users/')) {
      delete state.users[decodeURIComponent(path.slice('/users/'.length))]
      return send(res, 200, { users: Object.keys(state.users) })
    }
    if (method === 'POST' && path === '/next-user') {
      const { sub } = await readBody(req)
      state.nextUser = sub || null
      return send(res, 200, { next_user: state.nextUser })
    }
    if (method === 'POST' && path === '/clients') {
      const metadata = await readBody(req)
      if (!metadata.client_id) return send(res, 400, { error: 'client_id is required' })
      const before = state.clients.get(metadata.client_id)
      state.clients.set(metadata.client_id, metadata)
      try {
        await build(metadata.client_id)
      } catch (err) {
        if (before) state.clients.set(metadata.client_id, before)
        else state.clients.delete(metadata.client_id)
        return send(res, 400, { error: err.error || 'invalid_client_metadata', error_description: err.error_description || err.message })
      }
      return send(res, 200, { client_id: metadata.client_id })
    }
    if (method === 'POST' && path === '/rotate-keys') {
      const { keep_previous: keepPrevious = true } = await readBody(req)
      state.keySerial += 1
      const key = newKey(state.keySerial)
      // The first key signs; the previous ones stay in the JWKS (to verify what they signed) unless dropped.
      state.keys = keepPrevious ? [key, ...state.keys] : [key]
      await build()
      return send(res, 200, { kid: key.kid, kids: state.keys.map((k) => k.kid) })
    }
    if (method === 'POST' && path === '/ttl') {
      const body = await readBody(req)
      for (const [name, seconds] of Object.entries(body)) {
        if (!(name in DEFAULT_TTL) || !Number.isInteger(seconds) || seconds < 1) {
          return send(res, 400, { error: `ttl: ${name} must be one of ${Object.keys(DEFAULT_TTL)} and a positive integer` })
        }
      }
      Object.assign(state.ttl, body)
      return send(res, 200, { ttl: state.ttl })
    }
    return send(res, 404, { error: `no test endpoint ${method} ${path}` })
  }

  server.on('request', (req, res) => {
    const path = req.url.split('?')[0]
    const done = (err) => {
      console.error(err)
      if (!res.headersSent) send(res, 500, `${err && err.stack}`)
      else res.end()
    }
    if (path.startsWith('/_test/')) return admin(req, res, path.slice('/_test'.length)).catch(done)
    const match = path.match(/^\/interaction\/([^/]+)$/)
    if (match && req.method === 'GET') return interaction(req, res, match[1]).catch(done)
    if (issuerPath) {
      if (path !== issuerPath && !path.startsWith(issuerPath + '/')) return send(res, 404, 'not found')
      // As a mounting framework would: the provider sees its own path and finds the prefix in originalUrl.
      req.originalUrl = req.url
      req.url = req.url.slice(issuerPath.length) || '/'
    }
    const route = req.url.split('?')[0]
    state.hits[route] = (state.hits[route] || 0) + 1
    return handle(req, res)
  })

  const stop = () => {
    server.close()
    server.closeAllConnections()
    process.exit(0)
  }
  process.stdin.on('end', stop).on('close', stop).resume()
  process.on('SIGTERM', stop)
  process.stdout.write(JSON.stringify({ issuer, url, port }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
