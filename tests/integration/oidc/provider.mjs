// Local OpenID Connect provider for pgwarden's integration tests.
//
// A real `oidc-provider` (panva) instance served over HTTPS on 127.0.0.1 that
// issues JWT access tokens with the client-credentials grant. The Python side
// lives in tests/integration/oidc_fixture.py; see README.md in this folder for
// the request parameters and the admin endpoints.
//
// Usage:
//   node provider.mjs --port 0 --cert server.crt --key server.key \
//        --keys keys.json [--admin-secret S] [--client-secret S] [--host 127.0.0.1]
// Every option can also be given as an environment variable: OIDC_PORT,
// OIDC_CERT, OIDC_KEY, OIDC_KEYS, OIDC_ADMIN_SECRET, OIDC_CLIENT_SECRET,
// OIDC_HOST, OIDC_ISSUER. With --port 0 the kernel picks a free port; the issuer
// is then https://<host>:<actual port>. Prints exactly one line
// `READY <issuer>` on stdout once it accepts connections; logs go to stderr.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const AUDIENCE = 'pgwarden';
const RESOURCE_PREFIX = 'urn:pgwarden:';
const DEFAULT_TTL = 300;
const MAX_TTL = 24 * 3600;

function log(...args) {
  process.stderr.write(`[oidc-provider ${new Date().toISOString()}] ${args.join(' ')}\n`);
}

// ---------------------------------------------------------------- options ---

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.OIDC_HOST || '127.0.0.1' },
    port: { type: 'string', default: process.env.OIDC_PORT || '0' },
    cert: { type: 'string', default: process.env.OIDC_CERT },
    key: { type: 'string', default: process.env.OIDC_KEY },
    keys: { type: 'string', default: process.env.OIDC_KEYS },
    issuer: { type: 'string', default: process.env.OIDC_ISSUER },
    'admin-secret': { type: 'string', default: process.env.OIDC_ADMIN_SECRET || 'pgwarden-oidc-admin' },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET || 'pgwarden-tests-secret' },
  },
  strict: true,
});

for (const required of ['cert', 'key', 'keys']) {
  if (!opts[required]) {
    log(`missing --${required}`);
    process.exit(2);
  }
}

// ------------------------------------------------------------ signing keys ---

// Private JWKs, newest first. The first key of an alg is the one new tokens of
// that alg are signed with; every key in the list is published in the JWKS.
function generateKey(alg) {
  let pair;
  switch (alg) {
    case 'RS256':
    case 'PS256':
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    case 'ES256':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EdDSA':
      pair = crypto.generateKeyPairSync('ed25519');
      break;
    default:
      throw new Error(`unsupported alg ${alg}`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
  return { kid, alg, use: 'sig', ...jwk };
}

function loadOrCreateKeys(file) {
  if (fs.existsSync(file)) {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(parsed.keys)) throw new Error(`${file}: no "keys" array`);
    for (const alg of ALGS) {
      if (!parsed.keys.some((k) => k.alg === alg)) parsed.keys.push(generateKey(alg));
    }
    return parsed.keys;
  }
  return ALGS.map(generateKey);
}

function saveKeys(file, keys) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function currentKids(keys) {
  const out = {};
  for (const alg of ALGS) out[alg] = keys.find((k) => k.alg === alg)?.kid;
  return out;
}

let keys = loadOrCreateKeys(opts.keys);
saveKeys(opts.keys, keys);

// ------------------------------------------------- per-request token options ---
//
// Token requests carry extra form parameters that oidc-provider itself ignores
// (it strips unknown parameters from ctx.oidc.params, but the parsed body stays
// in ctx.oidc.body):
//   ttl     lifetime in seconds (default 300)
//   groups  JSON array (`["a","b"]`) or comma-separated list; default []
//   sub     overrides the `sub` claim (default: the client_id)
//   claims  JSON object merged into the payload last; a null value removes the
//           claim (e.g. {"exp": 1} or {"aud": "other"} or {"groups": null})
//   header  JSON object merged into the JOSE header (e.g. {"kid": "unknown"})

function bodyParam(ctx, name) {
  const v = ctx.oidc?.body?.[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return v;
}

function parseJsonParam(ctx, name, kind) {
  const raw = bodyParam(ctx, name);
  if (raw === undefined || raw === '') return undefined;
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`parameter ${name} is not valid JSON`);
  }
  if (kind === 'object' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new Error(`parameter ${name} must be a JSON object`);
  }
  return parsed;
}

function requestedTtl(ctx) {
  const raw = bodyParam(ctx, 'ttl');
  if (raw === undefined || raw === '') return DEFAULT_TTL;
  const ttl = Number(raw);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    throw new Error(`ttl must be an integer in [1, ${MAX_TTL}]`);
  }
  return ttl;
}

function requestedGroups(ctx) {
  const raw = bodyParam(ctx, 'groups');
  if (raw === undefined || raw === '') return [];
  if (raw.trim().startsWith('[')) {
    const parsed = JSON.parse(raw);
    if (!Array.isArray(parsed) || !parsed.every((g) => typeof g === 'string')) {
      throw new Error('groups must be a JSON array of strings');
    }
    return parsed;
  }
  return raw.split(',').map((g) => g.trim()).filter(Boolean);
}

// ---------------------------------------------------------------- provider ---

// Minimal in-memory storage shared by every provider instance of this process
// (the built-in MemoryAdapter works too but warns on every construction, and
// rotation constructs a new instance). Client-credentials JWTs are not stored.
const storage = new Map();
class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    storage.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }

  async find(id) {
    const entry = storage.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt < Date.now()) {
      storage.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUserCode(userCode) {
    for (const [k, v] of storage) if (k.startsWith(`${this.model}:`) && v.payload.userCode === userCode) return v.payload;
    return undefined;
  }

  async findByUid(uid) {
    for (const [k, v] of storage) if (k.startsWith(`${this.model}:`) && v.payload.uid === uid) return v.payload;
    return undefined;
  }

  async consume(id) {
    const entry = storage.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { storage.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [k, v] of storage) if (v.payload.grantId === grantId) storage.delete(k);
  }
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'pgwarden-tests',
        client_secret: opts['client-secret'],
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    adapter: MapAdapter,
    jwks: { keys },
    cookies: { keys: ['pgwarden-oidc-test-cookie-key'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // A request without `resource` gets an RS256 JWT (never an opaque token).
        defaultResource: () => `${RESOURCE_PREFIX}rs256`,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator) {
          if (!resourceIndicator.startsWith(RESOURCE_PREFIX)) {
            throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          }
          const want = resourceIndicator.slice(RESOURCE_PREFIX.length).toLowerCase();
          const alg = ALGS.find((a) => a.toLowerCase() === want);
          if (!alg) throw new errors.InvalidTarget(`no signing alg for ${resourceIndicator}`);
          let ttl;
          try {
            ttl = requestedTtl(ctx);
          } catch (err) {
            throw new errors.InvalidRequest(err.message);
          }
          return {
            scope: 'db',
            audience: AUDIENCE,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg, kid: currentKids(keys)[alg] } },
          };
        },
      },
    },
    formats: {
      customizers: {
        async jwt(ctx, token, jwt) {
          let groups;
          let claims;
          let header;
          try {
            groups = requestedGroups(ctx);
            claims = parseJsonParam(ctx, 'claims', 'object');
            header = parseJsonParam(ctx, 'header', 'object');
          } catch (err) {
            throw new errors.InvalidRequest(err.message);
          }
          jwt.payload.groups = groups;
          const sub = bodyParam(ctx, 'sub');
          if (sub) jwt.payload.sub = sub;
          for (const [k, v] of Object.entries(claims || {})) {
            if (v === null) delete jwt.payload[k];
            else jwt.payload[k] = v;
          }
          if (header) jwt.header = { ...(jwt.header || {}), ...header };
        },
      },
    },
    // Keep errors terse on stderr (tests read it on failure).
    renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (ctx, err) => log('server_error', err.stack || err));
  provider.on('grant.error', (ctx, err) => log('grant.error', err.error || '', err.error_description || err.message));
  return provider;
}

// ------------------------------------------------------------------- admin ---
//
// All admin endpoints need the header `x-admin-secret: <admin secret>`.
//   POST /admin/rotate  body {"algs": ["RS256", ...] (default all), "retire": false}
//        Generates a new key (new kid) for each alg, puts it first so new tokens
//        use it, publishes it in the JWKS; with retire=true the older keys of
//        those algs are removed from the JWKS. Persisted to the keys file, so a
//        restart keeps the rotated set. The HTTPS server stays up: the
//        oidc-provider instance is rebuilt in-process and swapped atomically.
//   GET  /admin/state   {"issuer", "kids": {alg: current kid}, "jwks_kids": [...], "faults"}
//   POST /admin/faults  body {"/jwks": {"status": 503, "delay_ms": 0}, ...}
//        replaces the fault table (exact request path -> fault); {} clears it.

let faults = {};

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new Error('body is not valid JSON'));
      }
      return undefined;
    });
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store' });
  res.end(data);
}

function adminAuthorized(req) {
  const got = Buffer.from(String(req.headers['x-admin-secret'] || ''));
  const want = Buffer.from(opts['admin-secret']);
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

function stateBody(issuer) {
  return {
    issuer,
    kids: currentKids(keys),
    jwks_kids: keys.map((k) => k.kid),
    faults,
  };
}

async function handleAdmin(req, res, pathname, issuer, swapProvider) {
  if (!adminAuthorized(req)) return sendJson(res, 401, { error: 'unauthorized' });
  let body;
  try {
    body = req.method === 'POST' ? await readJson(req) : {};
  } catch (err) {
    return sendJson(res, 400, { error: err.message });
  }
  if (pathname === '/admin/state' && req.method === 'GET') {
    return sendJson(res, 200, stateBody(issuer));
  }
  if (pathname === '/admin/rotate' && req.method === 'POST') {
    const algs = body.algs ?? ALGS;
    if (!Array.isArray(algs) || !algs.every((a) => ALGS.includes(a))) {
      return sendJson(res, 400, { error: `algs must be a subset of ${ALGS.join(',')}` });
    }
    const fresh = algs.map(generateKey);
    const kept = body.retire ? keys.filter((k) => !algs.includes(k.alg)) : keys;
    const next = [...fresh, ...kept];
    const previous = keys;
    keys = next;
    try {
      swapProvider();
    } catch (err) {
      keys = previous;
      log('rotate failed', err.stack || err);
      return sendJson(res, 500, { error: String(err.message || err) });
    }
    saveKeys(opts.keys, keys);
    log('rotated', JSON.stringify(currentKids(keys)), body.retire ? '(retired old keys)' : '');
    return sendJson(res, 200, stateBody(issuer));
  }
  if (pathname === '/admin/faults' && req.method === 'POST') {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return sendJson(res, 400, { error: 'body must be an object' });
    }
    faults = body;
    log('faults', JSON.stringify(faults));
    return sendJson(res, 200, stateBody(issuer));
  }
  return sendJson(res, 404, { error: 'not found' });
}

// ------------------------------------------------------------------ server ---

const server = https.createServer({
  cert: fs.readFileSync(opts.cert),
  key: fs.readFileSync(opts.key),
});

let handler = null;

server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const issuer = opts.issuer || `https://${hostForUrl}:${port}`;

  const swapProvider = () => {
    handler = buildProvider(issuer).callback();
  };
  swapProvider();

  server.on('request', async (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    if (pathname.startsWith('/admin/')) {
      await handleAdmin(req, res, pathname, issuer, swapProvider);
      return;
    }
    const fault = faults[pathname];
    if (fault) {
      if (fault.delay_ms) await new Promise((r) => { setTimeout(r, Number(fault.delay_ms)); });
      if (fault.status) {
        sendJson(res, Number(fault.status), { error: 'injected fault' });
        return;
      }
    }
    handler(req, res);
  });

  log(`listening, kids ${JSON.stringify(currentKids(keys))}`);
  process.stdout.write(`READY ${issuer}\n`);
});

server.on('error', (err) => {
  log('server error:', err.stack || err);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
