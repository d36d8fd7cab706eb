package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable that sets a key.
const EnvPrefix = "CODETERM_"

// field is one settable key of Config.
type field struct {
	key   string // dotted path: sessions.ring_bytes
	value reflect.Value
	check string
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func fields(c *Config) map[string]field {
	out := map[string]field{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := prefix + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct {
				walk(v.Field(i), key+".")
				continue
			}
			out[key] = field{key: key, value: v.Field(i), check: f.Tag.Get("check")}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// Keys lists every key in a stable order, for documentation and tests.
func Keys() []string {
	var ks []string
	for k := range fields(Default()) {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Load builds the configuration: defaults, then the file (if path is not
// empty), then CODETERM_* variables from environ, then flags (key → value).
func Load(path string, environ []string, flags map[string]string) (*Config, error) {
	c := Default()
	fs := fields(c)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := loadYAML(fs, path, data); err != nil {
			return nil, err
		}
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, ok := envField(fs, name)
		if !ok {
			continue // CODETERM_* names that are not keys belong to someone else
		}
		if err := setString(f, val); err != nil {
			return nil, fmt.Errorf("environment %s: %w", name, err)
		}
	}
	flagKeys := make([]string, 0, len(flags))
	for k := range flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		f, ok := fs[k]
		if !ok {
			return nil, fmt.Errorf("flag for unknown key %q", k)
		}
		if err := setString(f, flags[k]); err != nil {
			return nil, fmt.Errorf("flag %s: %w", k, err)
		}
	}
	for _, k := range sortedKeys(fs) {
		if err := check(fs[k]); err != nil {
			return nil, fmt.Errorf("config %s: %w", k, err)
		}
	}
	if err := c.checkTLS(); err != nil {
		return nil, err
	}
	if cmd := c.Sessions.Command; len(cmd) > 0 && !filepath.IsAbs(cmd[0]) {
		return nil, fmt.Errorf("config sessions.command: the program must be an absolute path, got %q", cmd[0])
	}
	return c, nil
}

// checkTLS checks the HTTPS keys against each other.
func (c *Config) checkTLS() error {
	h := c.HTTP
	if (h.TLSCert == "") != (h.TLSKey == "") {
		return errors.New("config http.tls_cert and http.tls_key: set both or neither")
	}
	if h.ACME && h.TLSCert != "" {
		return errors.New("config http.acme: not with http.tls_cert (choose one source of certificates)")
	}
	if h.ACME {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
			return fmt.Errorf("config http.acme: public_url must be https://<a public host name>, got %q", c.PublicURL)
		}
	}
	if h.ACMEHTTPAddr != "" {
		if _, _, err := net.SplitHostPort(h.ACMEHTTPAddr); err != nil {
			return fmt.Errorf("config http.acme_http_addr: want HOST:PORT such as :80, got %q", h.ACMEHTTPAddr)
		}
	}
	return nil
}

func envField(fs map[string]field, name string) (field, bool) {
	for k, f := range fs {
		if EnvName(k) == name {
			return f, true
		}
	}
	return field{}, false
}

func sortedKeys(fs map[string]field) []string {
	ks := make([]string, 0, len(fs))
	for k := range fs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// loadYAML walks the document node by node so that an unknown key or a bad
// value can be reported with its line.
func loadYAML(fs map[string]field, path string, data []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	var walk func(n *yaml.Node, prefix string) error
	walk = func(n *yaml.Node, prefix string) error {
		if n.Kind != yaml.MappingNode {
			where := strings.TrimSuffix(prefix, ".")
			if where == "" {
				where = "the document"
			}
			return fmt.Errorf("%s:%d: %s must be a mapping of keys", path, n.Line, where)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			if f, ok := fs[key]; ok {
				if err := setNode(f, v); err != nil {
					return fmt.Errorf("%s:%d: %s: %w", path, v.Line, key, err)
				}
				continue
			}
			if hasPrefix(fs, key+".") {
				if err := walk(v, key+"."); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s:%d: unknown key %q", path, k.Line, key)
		}
		return nil
	}
	return walk(doc.Content[0], "")
}

func hasPrefix(fs map[string]field, p string) bool {
	for k := range fs {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func setNode(f field, n *yaml.Node) error {
	if f.value.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return errors.New("want a list")
		}
		var list []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a string", item.Line)
			}
			list = append(list, item.Value)
		}
		f.value.Set(reflect.ValueOf(list))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a single value")
	}
	return setString(f, n.Value)
}

var durationType = reflect.TypeOf(time.Duration(0))

func setString(f field, s string) error {
	v := f.value
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 5m, got %q", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice:
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

func check(f field) error {
	v := f.value
	for _, rule := range strings.Fields(f.check) {
		name, arg, _ := strings.Cut(rule, "=")
		switch name {
		case "positive":
			if v.Int() <= 0 {
				return fmt.Errorf("must be greater than zero, got %v", v.Interface())
			}
		case "nonnegative":
			if v.Int() < 0 {
				return fmt.Errorf("must not be negative, got %v", v.Interface())
			}
		case "hostport":
			if _, port, err := net.SplitHostPort(v.String()); err != nil || port == "" {
				return fmt.Errorf("want HOST:PORT, got %q", v.String())
			}
		case "url":
			if s := v.String(); s != "" {
				u, err := url.Parse(s)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("want an http or https URL, got %q", s)
				}
			}
		case "cidrs":
			for _, p := range v.Interface().([]string) {
				if _, err := netip.ParsePrefix(p); err != nil {
					if _, err := netip.ParseAddr(p); err != nil {
						return fmt.Errorf("want CIDRs such as 10.0.0.0/8 or 127.0.0.1, got %q", p)
					}
				}
			}
		case "oneof":
			allowed := strings.Split(arg, "|")
			if !slices.Contains(allowed, v.String()) {
				return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v.String())
			}
		}
	}
	return nil
}

// SystemFile is the configuration a package installs; it is read when no
// file is named.
const SystemFile = "/etc/codeterm/config.yaml"

// FileOrSystem is the configuration file to load: path when given, else
// system when it exists, else none.
func FileOrSystem(path, system string) string {
	if path != "" {
		return path
	}
	if _, err := os.Stat(system); err == nil {
		return system
	}
	return ""
}
