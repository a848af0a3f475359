//go:build !linux

package dex

import "syscall"

// sysProcAttr is nil outside Linux: a Dex orphaned by a killed test process
// is not stopped automatically there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
