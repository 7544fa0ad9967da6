// Package idptest is a real OAuth identity provider for tests, on
// 127.0.0.1: it serves RFC 8414 authorization-server metadata (and OpenID
// discovery) and a JWKS, and issues JWT access tokens signed with real RS256,
// ES256 and EdDSA keys (by go-jose, an implementation independent of the
// verifier under test). It rotates keys, counts JWKS fetches, and mints
// hostile tokens: alg none, HS256 keyed with the public key, unknown kid,
// arbitrary headers and claims.
package idptest
