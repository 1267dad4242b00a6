#!/bin/bash
# The docs stay true of the tree: every relative link and #anchor of
# README.md, docs/ and bench/README.md resolves (docs/check-links.py);
# every source file is named in docs/design.md's "The tree", and every file
# named there exists; the README's test command is the one .ci/run runs; no
# reference to issue numbers (a reader cannot see them). No network, no
# namespace: it reads files only.
set -u
cd "$(dirname "$0")/../.."

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

if out=$(python3 docs/check-links.py 2>&1); then
	ok docs/links
else
	fail docs/links "$(echo "$out" | head -5 | tr '\n' ';')"
fi

# The tree: the table rows between "## The tree" and the next heading.
tree=$(awk '/^## The tree/ { on = 1; next } /^## / { on = 0 } on' docs/design.md)
missing=()
for f in src/*.c src/*/*.c cni/*.c bpf/*.c bpf/*.h doc/*.c; do
	[ -e "$f" ] || continue
	grep -qF "\`$f\`" <<<"$tree" || missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
	ok docs/tree_names_every_source_file
else
	fail docs/tree_names_every_source_file "not in docs/design.md's tree: ${missing[*]}"
fi
gone=()
while IFS= read -r f; do
	[ -e "$f" ] || gone+=("$f")
done < <(grep -oE '`(src|cni|bpf|doc|include|deploy|tests|demo|bench)/[^` ]*`' <<<"$tree" | tr -d '`')
if [ ${#gone[@]} -eq 0 ]; then
	ok docs/tree_files_exist
else
	fail docs/tree_files_exist "named in docs/design.md's tree but absent: ${gone[*]}"
fi

# .ci/run runs exactly the README's test command.
ci_cmd=$(grep -E '^exec ' .ci/run | sed 's/^exec //')
readme_cmd=$(grep -m1 -E '^sudo make test' README.md | sed -E 's/^sudo //; s/ +#.*//')
if [ -n "$ci_cmd" ] && [ "$ci_cmd" = "$readme_cmd" ]; then
	ok docs/ci_runs_readme_test_command
else
	fail docs/ci_runs_readme_test_command ".ci/run runs '$ci_cmd', README says '$readme_cmd'"
fi

refs=$(grep -rniE '\bissue[s]? *#?[0-9]+' README.md docs bench/README.md src cni bpf tests/e2e tests/lib 2>/dev/null |
	grep -v '^tests/e2e/test_docs.sh' | head -5)
if [ -z "$refs" ]; then
	ok docs/no_issue_numbers
else
	fail docs/no_issue_numbers "$(tr '\n' ';' <<<"$refs")"
fi
