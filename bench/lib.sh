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
