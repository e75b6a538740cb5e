// Command modproxy writes a file-based Go module proxy (the layout that
// GOPROXY=file://DIR reads, "go help goproxy") holding modules of this
// checkout at one candidate version, so that CI can install them the way
// a user does, before anything is tagged:
//
//	modproxy -out DIR -version v0.1.0 MODULEDIR...
//
// Each MODULEDIR (a directory with a go.mod) becomes
// DIR/<escaped module path>/@v/{list, VERSION.info, VERSION.mod,
// VERSION.zip}. The zip is made by golang.org/x/mod/zip, the code the go
// command and the public proxies use, so it holds what a release would:
// nested modules and VCS directories left out, file names and sizes
// checked.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

func main() {
	out := flag.String("out", "", "proxy directory to write")
	version := flag.String("version", "", "version to give every module (vX.Y.Z)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: modproxy -out DIR -version vX.Y.Z MODULEDIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || !semver.IsValid(*version) || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		path, err := write(*out, *version, dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "modproxy: %s: %v\n", dir, err)
			os.Exit(1)
		}
		fmt.Printf("%s@%s <- %s\n", path, *version, dir)
	}
}

// write adds the module in dir to the proxy at out and returns its path.
func write(out, version, dir string) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return "", errors.New("go.mod names no module")
	}
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return "", err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, escaped, "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		return "", err
	}
	if err := zip.CreateFromDir(f, mv, dir); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{
		version + ".mod":  gomod,
		version + ".info": info,
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return path, nil
}
