//go:build !linux

package oidcprovider

import "syscall"

// procAttr: no parent-death signal outside Linux; Cleanup stops the server.
func procAttr() *syscall.SysProcAttr { return nil }
