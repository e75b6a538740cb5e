// Generates interop.json: nested-JWT JWEs built with Node.js's crypto
// (OpenSSL), independently of go-jose and of this package. Run:
//   node interop.js > interop.json
'use strict';
const crypto = require('crypto');

const b64 = (b) => Buffer.from(b).toString('base64url');
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signer = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

const jwsHeader = b64(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'sig1' }));
const jwsPayload = b64(JSON.stringify({ iss: 'https://tenant.example/', sub: 'user', aud: 'https://api.example', exp: 4102444800, cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }));
const sig = crypto.sign('sha256', Buffer.from(jwsHeader + '.' + jwsPayload), signer.privateKey);
const jws = jwsHeader + '.' + jwsPayload + '.' + b64(sig);

const encs = {
  'A256GCM': { keyLen: 32 },
  'A128GCM': { keyLen: 16 },
  'A128CBC-HS256': { keyLen: 32, hash: 'sha256', aes: 'aes-128-cbc' },
  'A256CBC-HS512': { keyLen: 64, hash: 'sha512', aes: 'aes-256-cbc' },
};
const oaep = { 'RSA-OAEP-256': 'sha256', 'RSA-OAEP-384': 'sha384', 'RSA-OAEP-512': 'sha512' };

function jwe(alg, enc, kid) {
  const e = encs[enc];
  const protectedB64 = b64(JSON.stringify({ alg, enc, kid, cty: 'JWT' }));
  const aad = Buffer.from(protectedB64, 'ascii');
  const cek = crypto.randomBytes(e.keyLen);
  const ek = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaep[alg] }, cek);
  let iv, ct, tag;
  if (!e.aes) {
    iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-' + e.keyLen * 8 + '-gcm', cek, iv);
    c.setAAD(aad);
    ct = Buffer.concat([c.update(jws, 'ascii'), c.final()]);
    tag = c.getAuthTag();
  } else { // RFC 7518 §5.2.2.1
    const half = e.keyLen / 2;
    const macKey = cek.subarray(0, half), encKey = cek.subarray(half);
    iv = crypto.randomBytes(16);
    const c = crypto.createCipheriv(e.aes, encKey, iv);
    ct = Buffer.concat([c.update(jws, 'ascii'), c.final()]);
    const al = Buffer.alloc(8);
    al.writeBigUInt64BE(BigInt(aad.length * 8));
    const mac = crypto.createHmac(e.hash, macKey).update(Buffer.concat([aad, iv, ct, al])).digest();
    tag = mac.subarray(0, half);
  }
  return { alg, enc, token: [protectedB64, b64(ek), b64(iv), b64(ct), b64(tag)].join('.') };
}

const tokens = [];
for (const alg of Object.keys(oaep)) {
  for (const enc of Object.keys(encs)) {
    tokens.push(jwe(alg, enc, 'enc1'));
  }
}
process.stdout.write(JSON.stringify({
  privateKeyPKCS8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  kid: 'enc1',
  jws,
  tokens,
}, null, 1) + '\n');
