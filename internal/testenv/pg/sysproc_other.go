//go:build !linux

package pg

import "syscall"

// canSwitchUser reports whether sysProcAttr can run a program as another
// user. Outside Linux the tests must run as an ordinary user, and a server
// orphaned by a killed test process is not stopped automatically.
const canSwitchUser = false

func sysProcAttr(*account, bool) *syscall.SysProcAttr { return nil }
