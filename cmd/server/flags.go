package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/codeterm/codeterm/config"
)

// flags wraps flag.FlagSet so that flags may come before or after positional
// arguments (codeterm user add alice --key k.pub).
type flags struct {
	*flag.FlagSet
	data, config *string
	keys         map[string]*string // config keys set by flags
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{
		FlagSet: fs,
		data:    fs.String("data", "", "data directory"),
		config:  fs.String("config", "", "configuration file"),
		keys:    map[string]*string{},
	}
}

// configFlag declares a flag that sets a configuration key.
func (f *flags) configFlag(name, key, help string) {
	f.keys[key] = f.String(name, "", help)
}

// parse returns the positional arguments, which must number between min and max.
func (f *flags) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %v: %w", f.Name(), err, errUsage)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || len(pos) > max {
		return nil, fmt.Errorf("%s: wrong number of arguments: %w", f.Name(), errUsage)
	}
	return pos, nil
}

// configFile is --config, or the installed /etc/codeterm/config.yaml.
func (f *flags) configFile() string {
	return config.FileOrSystem(*f.config, config.SystemFile)
}

// overrides are the configuration keys given on the command line.
func (f *flags) overrides() map[string]string {
	out := map[string]string{}
	if *f.data != "" {
		out["data_dir"] = *f.data
	}
	for k, v := range f.keys {
		if *v != "" {
			out[k] = *v
		}
	}
	return out
}
