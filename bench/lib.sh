# Shared by the benchmark scripts: the test class path of one module, built on a clean clone too.
# Usage: module_classpath <module> <work dir>   (prints the class path)
module_classpath() {
  local module=$1 work=$2
  local run="./mvnw -B -q -pl $module dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=$work/cp.txt"
  if ! $run >"$work/mvn.log" 2>&1; then
    # After ./mvnw verify the modules a module's tests use are built but not installed.
    echo "bench: installing the modules $module needs (./mvnw install -pl $module -am, once) ..." >&2
    if ! ./mvnw -B -q -DskipTests -Djib.skip -pl "$module" -am install >"$work/mvn.log" 2>&1 || ! $run >"$work/mvn.log" 2>&1; then
      cat "$work/mvn.log" >&2
      echo "bench: could not build $module's class path (the build's output is above)" >&2
      return 1
    fi
  fi
  [ -d "$module/target/test-classes" ] || ./mvnw -B -q -DskipTests -pl "$module" test-compile >&2
  echo "$PWD/$module/target/test-classes:$PWD/$module/target/classes:$(cat "$work/cp.txt")"
}

# Workload-style certificates, as Istio's CA issues them, made with openssl in <dir>: an EC P-256
# root `O=cluster.local` (root.pem, root.key) and, per name, a 24 h leaf with an empty subject whose
# only SAN (critical) is the URI spiffe://cluster.local/ns/<ns>/sa/<name>, EKU server and client
# auth: <name>.pem, <name>.key (PKCS#8, which mesh-proxy needs) and <name>-bundle.pem (certificate
# then key, haproxy's `crt`).
# Usage: mesh_certs <dir> <ns> <name>...
mesh_certs() {
  local dir=$1 ns=$2; shift 2
  command -v openssl >/dev/null || { echo "bench: mesh_certs needs openssl: apt-get install openssl" >&2; return 1; }
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /O=cluster.local \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature \
    -keyout "$dir/root.key" -out "$dir/root.pem" 2>"$dir/openssl.log" || { cat "$dir/openssl.log" >&2; return 1; }
  local who
  for who in "$@"; do
    printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
      extendedKeyUsage=serverAuth,clientAuth "subjectAltName=critical,URI:spiffe://cluster.local/ns/$ns/sa/$who" \
      authorityKeyIdentifier=keyid >"$dir/$who.ext"
    { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj / \
        -keyout "$dir/$who.key" -out "$dir/$who.csr" &&
      openssl x509 -req -in "$dir/$who.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" -set_serial "0x$(openssl rand -hex 16)" \
        -days 1 -extfile "$dir/$who.ext" -out "$dir/$who.pem"; } >>"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }
    cat "$dir/$who.pem" "$dir/$who.key" >"$dir/$who-bundle.pem"
  done
}
