package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/releasebot/releasebot/policy"
)

// maxPolicySize bounds the policy file: a few hundred release tasks fit in a
// few kilobytes, so a larger file is a wrong path, not a policy.
const maxPolicySize = 1 << 20

// policyFile reads and parses the policy file at path; each problem of the
// file is one problem of the configuration, naming the file and the line.
func (p *problems) policyFile(name, path string) *policy.Policy {
	if path == "" {
		return nil
	}
	data, err := readFile(path, maxPolicySize)
	if err != nil {
		p.add(name, fmt.Sprintf("%s: cannot read %s: %v", name, path, err))
		return nil
	}
	pol, err := policy.Parse(data)
	var perr *policy.Error
	switch {
	case errors.As(err, &perr):
		for _, pr := range perr.Problems {
			p.add(name, fmt.Sprintf("%s: %s: %s", name, path, pr))
		}
		return nil
	case err != nil:
		// Parse returns only *policy.Error; kept so a new error cannot pass silently.
		p.add(name, fmt.Sprintf("%s: %s: %v", name, path, err))
		return nil
	}
	return pol
}

// readFile reads at most limit bytes of a file. Its errors leave out the
// path, which the caller names.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathless(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	switch {
	case err != nil:
		return nil, pathless(err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("it is larger than %d KiB", limit>>10)
	}
	return data, nil
}

func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
