package jose

import "encoding/binary"

// base64URLValues maps each character of the base64url alphabet (RFC 4648
// §5) to its 6-bit value and every other byte to 0xFF, whose 0x40 bit no
// value has.
var base64URLValues = func() (t [256]uint8) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xFF
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = uint8(i)
	}
	return t
}()

// decodedLen is the length of the bytes that n characters of unpadded
// base64 decode to.
func decodedLen(n int) int { return n/4*3 + n%4*6/8 }

// decodeBase64URL decodes src, unpadded base64url, into dst, which must
// hold decodedLen(len(src)) bytes, and reports whether src is the one
// canonical encoding of the result: only alphabet characters (no padding,
// no line breaks, which encoding/base64 skips), no length of the form
// 4k+1, and zero bits after the last byte. It accepts exactly what
// base64.RawURLEncoding.Strict() accepts on inputs without CR or LF
// (FuzzDecodeBase64URL), with one branch per four characters instead of
// that decoder's per-character checks: tokens are decoded on every cold
// request.
func decodeBase64URL(dst []byte, src string) bool {
	t := &base64URLValues
	var bad uint8 // the OR of every value: 0x40 set when a character was not in the alphabet
	// Eight characters to six bytes, written as one eight-byte store
	// while dst has room for it (the two extra bytes are overwritten
	// next).
	for len(src) >= 8 && len(dst) >= 8 {
		a, b, c, d := t[src[0]], t[src[1]], t[src[2]], t[src[3]]
		e, f, g, h := t[src[4]], t[src[5]], t[src[6]], t[src[7]]
		bad |= a | b | c | d | e | f | g | h
		binary.BigEndian.PutUint64(dst, uint64(a)<<58|uint64(b)<<52|uint64(c)<<46|uint64(d)<<40|
			uint64(e)<<34|uint64(f)<<28|uint64(g)<<22|uint64(h)<<16)
		src, dst = src[8:], dst[6:]
	}
	for len(src) >= 4 && len(dst) >= 3 {
		a, b, c, d := t[src[0]], t[src[1]], t[src[2]], t[src[3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[0], dst[1], dst[2] = byte(v>>16), byte(v>>8), byte(v)
		src, dst = src[4:], dst[3:]
	}
	switch len(src) {
	case 0:
	case 2: // one byte; the last character's low 4 bits are not data
		a, b := t[src[0]], t[src[1]]
		bad |= a | b
		if len(dst) < 1 || b&0x0F != 0 {
			return false
		}
		dst[0] = a<<2 | b>>4
	case 3: // two bytes; the last character's low 2 bits are not data
		a, b, c := t[src[0]], t[src[1]], t[src[2]]
		bad |= a | b | c
		if len(dst) < 2 || c&0x03 != 0 {
			return false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[0], dst[1] = byte(v>>10), byte(v>>2)
	default: // 1, or dst too short: no base64 of any byte string
		return false
	}
	return bad&0x40 == 0
}
