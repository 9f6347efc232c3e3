// Command releasebot is a Slack bot that drives Huawei Cloud ServiceStage release tasks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/releasebot/releasebot/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "playground" {
		os.Exit(playgroundMain(os.Stdout, os.Stderr))
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasebot:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, newLogger(os.Stdout, cfg))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasebot:", err)
		os.Exit(1)
	}
}
