//go:build linux

package dex

import "syscall"

// sysProcAttr makes the kernel send Dex SIGTERM when the process that
// started it dies, so a test binary killed by a timeout leaves no Dex
// behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
