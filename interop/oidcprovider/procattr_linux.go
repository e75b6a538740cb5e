package oidcprovider

import "syscall"

// procAttr kills the server when the test process dies without cleanup.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
