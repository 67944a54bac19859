#!/bin/bash
# Hostile and malformed input against the data-safety guarantees (README "Reliability and security"): writable and
# ignored bind mounts, bind sources escaping the context, missing and unset secrets, non-UTF-8 names, kill -9 of a
# RUN, seccomp, bad tags and platforms, missing and non-tar archive paths. Each case prints "CONTAINED: ..." or
# "NOT CONTAINED: ... -- why"; the last line counts them. Needs root, runc and /bin/busybox (npm run setup).
# Usage: bash scripts/hostile-inputs.sh        (T=path/to/tsbuild to try another build; works in a temp dir)
T=${T:-$(cd "$(dirname "$0")/.." && pwd)/bin/tsbuild}
W=$(mktemp -d /tmp/tsbuild-hostile-XXXXXX); trap 'rm -rf "$W"' EXIT; cd $W
R=$W/root
mkdir -p rf/bin rf/etc rf/tmp; cp /bin/busybox rf/bin/; for a in sh ls cat echo rm touch mkdir find test printf chmod ln sleep mv cp wc; do ln -sf busybox rf/bin/$a; done
echo 'root:x:0:0:root:/root:/bin/sh' > rf/etc/passwd; echo 'root:x:0:' > rf/etc/group; tar -C rf -cf bb.tar .
$T --root $R import bb.tar busybox:latest >/dev/null 2>&1
pass=0; fail=0
ok(){ echo "CONTAINED: $1"; pass=$((pass+1)); }
bad(){ echo "NOT CONTAINED: $1 -- $2"; fail=$((fail+1)); }
ctx(){ rm -rf $W/c; mkdir -p $W/c/sub; echo orig > $W/c/f.txt; echo s > $W/c/secret.txt; echo d > $W/c/sub/d; ln -s /etc $W/c/etclink; printf "%b" "$1" > $W/c/Dockerfile; [ -n "$2" ] && printf "%b" "$2" > $W/c/.dockerignore; }
print(){ (cd $W/c && find . -printf '%p %m %U %G %s %T@ %l\n' | sort; find . -type f -exec md5sum {} + | sort) }
oneline(){ n=$(grep -c '^error:' $W/err); [ "$n" = 1 ]; }
build(){ $T --root $R build --progress plain "$@" > $W/out 2> $W/err; }
# 1 rw bind writes: context untouched
for spec in "target=/c,rw" "target=/c,rw,source=sub" "target=/c,readwrite=true" "target=/c,rw,source=f.txt"; do
  ctx "FROM busybox:latest\nRUN --mount=type=bind,$spec sh -c 'rm -rf /c/* /c/.* 2>/dev/null; echo x > /c/new 2>/dev/null; echo y > /c 2>/dev/null; true'\n"
  b=$(print); build --no-cache $W/c; a=$(print)
  [ "$b" = "$a" ] && ok "bind $spec leaves context" || bad "bind $spec" "context changed"
done
# 2 ro bind write fails
ctx "FROM busybox:latest\nRUN --mount=type=bind,target=/c rm /c/f.txt\n"; b=$(print); build $W/c; rc=$?; a=$(print)
[ $rc != 0 ] && [ "$b" = "$a" ] && oneline && ok "ro bind write refused" || bad "ro bind" "rc=$rc"
# 3 dockerignored files invisible via bind, via COPY, via symlink tricks
ctx "FROM busybox:latest\nRUN --mount=type=bind,target=/c sh -c 'cat /c/secret.txt > /leak 2>&1; ls -a /c > /ls'\n" "secret.txt\n"
build -t hc:ign $W/c && ! $T --root $R save hc:ign 2>/dev/null | tar -xO 2>/dev/null | zcat -f 2>/dev/null | grep -qa '^s$' && ok "ignored file invisible to bind" || bad "ignore bind" "$(cat $W/err | tail -1)"
for src in "secret.txt" "../secret.txt" "./sub/../secret.txt" "/secret.txt"; do
  ctx "FROM busybox:latest\nRUN --mount=type=bind,source=$src,target=/s cat /s\n" "secret.txt\n"; build --no-cache $W/c; rc=$?
  [ $rc != 0 ] && oneline && ok "ignored bind source $src refused" || bad "ignored source $src" "rc=$rc"
done
# 4 bind source escapes
for src in "../../../etc" "etclink" "etclink/passwd" "/etc/passwd"; do
  ctx "FROM busybox:latest\nRUN --mount=type=bind,source=$src,target=/s sh -c 'cat /s/shadow /s 2>&1 | head -1 > /o'\n"; build --no-cache -t hc:esc $W/c; rc=$?
  [ $rc != 0 ] && oneline && ok "bind source $src refused" || bad "bind source $src" "rc=$rc $(tail -1 $W/err)"
done
# 5 secrets
ctx "FROM busybox:latest\nRUN --mount=type=secret,id=x,required=true cat /run/secrets/x\n"
build --secret id=x,src=/nonexistent $W/c; rc=$?; [ $rc = 2 ] && oneline && ok "missing secret file" || bad "missing secret" "rc=$rc"
build --secret id=x,src=/root $W/c; rc=$?; [ $rc = 2 ] && oneline && ok "secret is a dir" || bad "secret dir" "rc=$rc"
unset NOPE_VAR; build --secret id=x,env=NOPE_VAR $W/c; rc=$?; [ $rc = 2 ] && oneline && ok "unset secret env" || bad "unset env" "rc=$rc"
build $W/c; rc=$?; [ $rc != 0 ] && oneline && ok "required secret not given" || bad "required secret" "rc=$rc"
ctx "FROM busybox:latest\nRUN --mount=type=secret,id=x,env=V sh -c 'test \"\$V\" = \"\$(printf hunter2)\"'\n"; echo -n hunter2 > $W/sec
build --secret id=x,src=$W/sec $W/c && ok "secret env set" || bad "secret env" "$(tail -1 $W/err)"
(cd $W && $T --root root build --progress plain --secret id=x,src=sec c > out 2> err) && ok "secret with relative root" || bad "relative root" "$(tail -1 $W/err)"
# 6 names
ctx "FROM busybox:latest\nCOPY . /c/\n"; printf x > "$W/c/caf$(printf '\351').txt"; mkdir "$W/c/d$(printf '\377\376')"; printf y > "$W/c/d$(printf '\377\376')/n$(printf '\200').bin"
build -t hc:names $W/c && $T --root $R save -o $W/names.tar hc:names && mkdir -p $W/nx && tar -C $W/nx -xf $W/names.tar && n=$(for l in $W/nx/blobs/sha256/*; do tar --quoting-style=literal -tzf $l 2>/dev/null; done | LC_ALL=C grep -ac $'caf\351.txt\|n\200.bin') && [ "$n" = 2 ] && ok "non-UTF-8 names exact in layer" || bad "names" "n=$n $(tail -1 $W/err)"
# 7 kill -9 leaves no running container
ctx "FROM busybox:latest\nRUN sleep 300\n"; $T --root $R build --progress plain --no-cache $W/c > /dev/null 2>&1 & bp=$!; sleep 3
cid=$(runc list -q | grep "^tsbuild-$(pgrep -P $bp node || echo $bp)-" | head -1); [ -z "$cid" ] && cid=$(for c in $(runc list -q); do grep -l "$R" /run/runc/$c/state.json >/dev/null 2>&1 && echo $c; done | head -1)
kill -9 $(pgrep -P $bp) $bp 2>/dev/null; sleep 4
if [ -n "$cid" ] && ! runc state $cid >/dev/null 2>&1; then ok "kill -9 stops RUN ($cid)"; else bad "kill -9" "cid=$cid still=$(runc state $cid 2>/dev/null | grep status)"; fi
# 8 seccomp
ctx "FROM busybox:latest\nRUN grep -q 'Seccomp:.*2' /proc/self/status\n"; build --no-cache $W/c && ok "seccomp filter on RUN" || bad "seccomp" "$(tail -1 $W/err)"
ctx "FROM busybox:latest\nRUN --security=insecure true\n"; build --no-cache $W/c; rc=$?; [ $rc != 0 ] && oneline && ok "insecure without --allow refused" || bad "insecure" "rc=$rc"
# 9 early failures
ctx "FROM busybox:latest\nRUN sleep 20\n"
for t in "Bad:Tag!" "UPPER" "a//b" ":nope" "x@sha256:123"; do s=$(date +%s); build -t "$t" $W/c; rc=$?; e=$(( $(date +%s) - s ))
  [ $rc = 2 ] && [ $e -lt 5 ] && oneline && ok "tag '$t' refused before building" || bad "tag $t" "rc=$rc ${e}s"; done
for p in linux/foo linux/arm64/v99 plan9/amd64 windows; do build --platform $p $W/c; rc=$?; [ $rc != 0 ] && oneline && ok "platform $p refused offline" || bad "platform $p" "rc=$rc"; done
$T --root $R import /nonexistent.tar x:1 2> $W/err; rc=$?; [ $rc != 0 ] && oneline && grep -q nonexistent $W/err && ok "import missing" || bad "import missing" "rc=$rc"
$T --root $R load -i /nonexistent.tar 2> $W/err; rc=$?; [ $rc != 0 ] && oneline && grep -q nonexistent $W/err && ok "load missing" || bad "load missing" "rc=$rc"
$T --root $R save -o /nonexistent/d/x.tar busybox:latest 2> $W/err; rc=$?; [ $rc != 0 ] && oneline && grep -q nonexistent $W/err && ok "save into missing dir" || bad "save missing" "rc=$rc"
echo notatar > $W/nt; $T --root $R import $W/nt x:2 2> $W/err; rc=$?; [ $rc != 0 ] && oneline && ok "import of a non-tar" || bad "import non-tar" "rc=$rc"
# store consistent, nothing leaked
$T --root $R fsck --repair >/dev/null 2>&1; $T --root $R fsck > $W/fsck 2>&1 && ok "fsck clean at the end" || bad "fsck" "$(tail -2 $W/fsck)"
m=$(grep -c " $W" /proc/self/mountinfo); [ "$m" = 0 ] && ok "no mount left under the campaign dir" || bad "mounts" "$m"
echo "TOTAL: $pass contained, $fail not contained"
[ "$fail" = 0 ]
