package jsonobj

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// Errors of [Decode], besides [ErrInvalid] and encoding/json's own.
var (
	ErrNameCase  = errors.New("jsonobj: member name matches a field only when case is ignored")
	ErrDuplicate = errors.New("jsonobj: member given twice")
)

// Decode unmarshals the JSON value data into v as encoding/json does, but
// with exact, case-sensitive member names at every level of v's structs:
// a member whose name equals a field's only when case is ignored ("AMOUNT"
// for a field named "amount") fails with [ErrNameCase] instead of filling
// the field, and a member that fills a field given twice fails with
// [ErrDuplicate] (encoding/json keeps the last one, other parsers the
// first). Unknown members are ignored, as with encoding/json. Types that
// unmarshal themselves (json.Unmarshaler, encoding.TextUnmarshaler) are
// left to their own rules.
func Decode(data []byte, v any) error {
	if v == nil {
		return errors.New("jsonobj: Decode(nil)")
	}
	if err := checkNames(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkNames walks data along t. Values of the wrong JSON type are left for
// json.Unmarshal to refuse.
func checkNames(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// JSON allows white space before a value (RFC 8259 §2): look past it,
	// or " {…}" would skip every check below and leave the names to
	// encoding/json's case folding.
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return ErrInvalid
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if data[0] != '{' {
			return nil
		}
		fields := structFields(t)
		seen := make(map[string]bool, len(fields))
		return Members(data, func(name string, v []byte) error {
			if ft, ok := fields[name]; ok {
				if seen[name] {
					return ErrDuplicate
				}
				seen[name] = true
				return checkNames(v, ft)
			}
			for f := range fields {
				if strings.EqualFold(f, name) {
					return ErrNameCase
				}
			}
			return nil
		})
	case reflect.Map:
		if data[0] != '{' {
			return nil
		}
		return Members(data, func(_ string, v []byte) error { return checkNames(v, t.Elem()) })
	case reflect.Slice, reflect.Array:
		if data[0] != '[' {
			return nil
		}
		return Elements(data, func(v []byte) error { return checkNames(v, t.Elem()) })
	}
	return nil
}

// structFields maps the JSON member names of t's fields, as encoding/json
// names them (tag name, else field name; embedded structs without a tag
// name are flattened, shallower fields winning), to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	// onPath holds the embedded struct types being walked, so that a type
	// that embeds itself (type Node struct{ *Node }) ends the walk instead
	// of recursing until the stack overflows; encoding/json ignores such an
	// embedding too.
	onPath := map[reflect.Type]bool{}
	var walk func(t reflect.Type, depth int, depthOf map[string]int)
	walk = func(t reflect.Type, depth int, depthOf map[string]int) {
		if onPath[t] {
			return
		}
		onPath[t] = true
		defer delete(onPath, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, depthOf)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, ok := depthOf[name]; ok && d <= depth {
				continue
			}
			depthOf[name] = depth
			fields[name] = ft
		}
	}
	walk(t, 0, map[string]int{})
	return fields
}
