// Command gen-sdk writes the SDK of one language for a Pulumi package schema, with Pulumi's
// own code generators (github.com/pulumi/pulumi/pkg/v3/codegen/{python,nodejs,go}): the
// generators `pulumi package gen-sdk` runs inside each language's host. The official Node.js
// and Go language hosts cannot be built here, so scripts/gen-sdk.sh calls the generators
// through this command instead, for all three languages alike.
//
// Usage: gen-sdk <schema.json> <python|nodejs|go> <out dir>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"

	"github.com/blang/semver"
)

const tool = "pulumi-metronome gen-sdk"

// noPackages is the schema loader: the package refers to no other package, so asking for
// one is an error (the SDKs then never depend on a package this command cannot see).
type noPackages struct{}

func (noPackages) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema refers to package %q: only self-contained schemas", name)
}

func (l noPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, nil)
}

func (l noPackages) LoadPackageReference(name string, v *semver.Version) (schema.PackageReference, error) {
	_, err := l.LoadPackage(name, v)
	return nil, err
}

func (l noPackages) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return l.LoadPackageReference(d.Name, nil)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "gen-sdk: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: gen-sdk <schema.json> <python|nodejs|go> <out dir>")
	}
	path, language, out := args[0], args[1], args[2]
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noPackages{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("%s is not a valid package schema: %v", path, diags)
	}
	var files map[string][]byte
	switch language {
	case "python":
		files, err = python.GeneratePackage(tool, pkg, nil, noPackages{})
	case "nodejs":
		files, err = nodejs.GeneratePackage(tool, pkg, nil, nil, false, noPackages{})
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	default:
		return fmt.Errorf("unknown language %q (python, nodejs or go)", language)
	}
	if err != nil {
		return fmt.Errorf("generating the %s SDK: %w", language, err)
	}
	for name, content := range files {
		target := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
