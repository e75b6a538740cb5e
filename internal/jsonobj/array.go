package jsonobj

// Elements calls fn with the raw value of each element of the JSON array in
// data. It fails when data is not a valid JSON array or when fn fails.
func Elements(data []byte, fn func(value []byte) error) error {
	if !jsonValid(data) {
		return ErrInvalid
	}
	return elements(data, fn)
}

// MemberElements is Elements for a value that a Member's Read function
// received: the enclosing object was validated as a whole, so the array is
// not validated again. Passing it anything else is a programming error.
func MemberElements(value []byte, fn func(value []byte) error) error { return elements(value, fn) }

func elements(data []byte, fn func(value []byte) error) error {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '[' {
		return ErrInvalid
	}
	i = skipWS(data, i+1)
	if data[i] == ']' {
		return nil
	}
	for {
		end := endOfValue(data, i)
		if err := fn(data[i:end]); err != nil {
			return err
		}
		i = skipWS(data, end)
		if data[i] != ',' {
			return nil // ']' since data is valid
		}
		i = skipWS(data, i+1)
	}
}

// Strings returns the JSON array of strings in raw, and false when raw is
// not an array or an element is not a string. An empty array gives an empty,
// non-nil slice.
func Strings(raw []byte) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	list := []string{}
	err := Elements(raw, func(v []byte) error {
		s, ok := String(v)
		if !ok {
			return ErrInvalid
		}
		list = append(list, s)
		return nil
	})
	return list, err == nil
}
