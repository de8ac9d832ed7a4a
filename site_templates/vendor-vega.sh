#!/bin/bash
# Refresh site_templates/assets/vega/: the vendored Vega, Vega-Lite and Vega-Embed builds from the npm registry (run from the repository root).
# The versions match what the site's Altair and vl-convert produce: Vega-Lite = altair.SCHEMA_VERSION, Vega = vl-convert's.
set -euo pipefail
here=site_templates/assets/vega
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$here/VERSIONS"
for spec in vega@6.2.0 vega-lite@6.4.1 vega-embed@7.3.0; do
  name=${spec%@*}
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$tmp/$name" && tar xzf "$tmp/$name-${spec#*@}.tgz" -C "$tmp/$name"
  cp "$tmp/$name/package/build/$name.min.js" "$here/"
  cp "$tmp/$name/package/LICENSE" "$here/LICENSE-$name"
  echo "$spec $(npm view "$spec" dist.integrity) https://registry.npmjs.org/$name/-/$name-${spec#*@}.tgz" >>"$here/VERSIONS"
done
sha256sum "$here"/*.min.js
