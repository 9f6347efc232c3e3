package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// build compiles the real bot and the minimal bot into dir.
func build(ctx context.Context, root, dir string) (bot, minimal string, err error) {
	bot, minimal = filepath.Join(dir, "releasebot"), filepath.Join(dir, "minimalbot")
	for _, b := range []struct{ out, pkg string }{{bot, "."}, {minimal, "./bench/minimalbot"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return bot, minimal, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the benchmark from inside the module (go run ./bench)")
	}
	return filepath.Dir(gomod), nil
}

// child is a bot running as a separate process, so that its memory is its own.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	// ctx ends when the process exits: every wait on the child's behalf uses it.
	ctx  context.Context
	done chan struct{}
}

// startChild runs binary with exactly env (plus GOMAXPROCS=2), logging to logPath.
func startChild(ctx context.Context, name, binary, logPath string, env map[string]string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary)
	cmd.Env = []string{"GOMAXPROCS=2", "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The child dies with the benchmark, whatever kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	c := &child{name: name, cmd: cmd, log: logPath, ctx: cctx, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		cancel(fmt.Errorf("%s exited (%v); its log:\n%s", name, err, c.logTail()))
		close(c.done)
	}()
	return c, nil
}

// stop kills the child and waits for it.
func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) logTail() string {
	data, _ := os.ReadFile(c.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// memory is what /proc/<pid>/status says of the child, in bytes.
type memory struct{ rss, hwm int64 }

func (c *child) memory() (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb << 10
		case "VmHWM:":
			m.hwm = kb << 10
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", c.cmd.Process.Pid)
	}
	return m, nil
}

// cpu is the child's user+system CPU time so far, in clock ticks (1/100 s).
func (c *child) cpu() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

// cpuTime is the CPU time the child's threads have run so far, from
// /proc/<pid>/task/*/schedstat (nanoseconds, unlike stat's 10 ms ticks).
func (c *child) cpuTime() (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", c.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for %d", c.cmd.Process.Pid)
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		total += time.Duration(ns)
	}
	return total, nil
}

// parseStatCPU reads utime+stime from a /proc/<pid>/stat line.
func parseStatCPU(data []byte) (int64, error) {
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, nil
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
