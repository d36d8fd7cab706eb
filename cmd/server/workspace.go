package main

import (
	"context"
	"fmt"
)

func (c *command) workspace(ctx context.Context, args []string) error {
	return fmt.Errorf("workspace: not built yet: %w", errUsage)
}
