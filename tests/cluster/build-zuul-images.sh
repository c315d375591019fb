#!/bin/bash
# Builds the images the Zuul Operator's end-to-end test (tests/operator_e2e.rs) runs (nothing is
# pulled from a registry), as docker-archive tarballs next to build-images.sh's, for up.sh to
# import:
#   localhost/zuul:14.3.0            - Debian bookworm + zuul 14.3.0 from PyPI in a venv under /usr
#                                      (its exec_prefix is then visible inside bubblewrap), user
#                                      zuul (10001, group 0), every component's entry point
#   localhost/zuul-executor:14.3.0   - that image + the Ansible venvs (zuul-manage-ansible, at
#                                      build time) + the test bed's kubectl
#   localhost/kubepool-zookeeper:3.8 - Debian's zookeeper 3.8 + a JRE, `zkServer.sh
#                                      start-foreground CFG` as the operator runs it
#   localhost/kubepool-postgres:15   - Debian's PostgreSQL 15: `kubepool-postgres` makes a
#                                      database $POSTGRES_DB owned by $POSTGRES_USER (password
#                                      $POSTGRES_PASSWORD) on first start, then serves it
#   localhost/kubepool-mariadb:10.11 - Debian's MariaDB 10.11 (server and `mysql` client): the
#                                      Percona stand-in's database (tests/support/pxc_standin.rs);
#                                      `kubepool-mariadb` sets root's password $MYSQL_ROOT_PASSWORD
#                                      (from anywhere) on first start, then serves port 3306
# Each tarball is kept while its own recipe (its build function and the helpers, with the
# versions) is unchanged: a hash of that text is in its name, so a change to one image rebuilds
# that image only. The Debian root is reused from build-images.sh's debootstrap (rootfs-bookworm).
# build.sh runs this script; up.sh imports the tarballs. With `--import` the missing images are
# also imported into the running test bed's containerd (up.sh's command), nothing restarted.
# Cold on this 2-core machine (shared): see docs/operator.md and $CACHE/build-times.txt.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
ZUUL_VERSION=14.3.0
ZUUL_IMAGE=localhost/zuul:$ZUUL_VERSION
EXECUTOR_IMAGE=localhost/zuul-executor:$ZUUL_VERSION
ZOOKEEPER_IMAGE=localhost/kubepool-zookeeper:3.8
POSTGRES_IMAGE=localhost/kubepool-postgres:15
MARIADB_IMAGE=localhost/kubepool-mariadb:10.11
IMPORT=0
[ "${1:-}" = --import ] && IMPORT=1
mkdir -p "$IMAGES"; cd "$IMAGES"
[ -d rootfs-bookworm ] || { log "run build-images.sh first (it makes rootfs-bookworm)"; exit 1; }
exec 9>"$IMAGES/zuul-images.lock"
flock 9   # concurrent callers build once
MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)

# A copy of the Debian root with `packages` installed from the mirror (as build-derived-image.sh: the
# device nodes apt-key, pip and the JRE need, /proc, this machine's resolver).
root_with() {
  local dir=$1; shift
  umount "$dir/proc" 2>/dev/null || true   # (a run that died midway)
  rm -rf "$dir"; cp -a rootfs-bookworm "$dir"
  echo "deb $MIRROR bookworm main" > "$dir/etc/apt/sources.list"
  mount_root "$dir"
  chroot "$dir" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends "$@" >/dev/null
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/*
}
# Device nodes, /proc and this machine's resolver in root `dir` (again after a pack).
mount_root() {
  local dir=$1
  mkdir -p "$dir/dev" "$dir/proc"
  for d in null:1:3 zero:1:5 random:1:8 urandom:1:9; do
    IFS=: read -r n ma mi <<<"$d"; [ -e "$dir/dev/$n" ] || mknod -m 666 "$dir/dev/$n" c "$ma" "$mi"
  done
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  # this machine's CA bundle for pip (a TLS-intercepting proxy's CA may be in it); /tmp is not packed
  cp -L /etc/ssl/certs/ca-certificates.crt "$dir/tmp/host-ca.crt"
  mount -t proc proc "$dir/proc"
  trap "umount '$dir/proc' 2>/dev/null || true" EXIT
}
# The root's /proc goes before packing.
unmount_proc() { umount "$1/proc" 2>/dev/null || true; }

# Packs root `dir` as image `name` with `config` (umoci config flags) into tarball `tar`.
pack() {
  local dir=$1 name=$2 tar=$3; shift 3
  unmount_proc "$dir"
  rm -rf "$dir"/dev/* "$dir"/run/* "$dir"/tmp/* "$dir"/var/log/*.log
  rm -rf pack-oci; umoci init --layout pack-oci; umoci new --image pack-oci:img
  umoci insert --image pack-oci:img "$dir" /
  umoci config --image pack-oci:img --author kubepool \
    --history.created_by "kubepool tests/cluster/build-zuul-images.sh" "$@"
  umoci gc --layout pack-oci
  skopeo --insecure-policy copy -q oci:pack-oci:img "docker-archive:$tar.tmp:$name"
  mv "$tar.tmp" "$tar"; rm -rf pack-oci
}

# pip in the chroot: this machine's CA bundle (mount_root), not its pip paths.
pip_env() { env -u PIP_FIND_LINKS PIP_CERT=/tmp/host-ca.crt REQUESTS_CA_BUNDLE=/tmp/host-ca.crt "$@"; }

build_zuul() {
  local R=rootfs-zuul
  log "building $ZUUL_IMAGE"
  root_with $R python3-venv bubblewrap socat git rsync openssh-client procps libre2-9 libyaml-0-2 \
    zstd dumb-init ca-certificates
  chroot $R python3 -m venv /usr/local/zuul
  pip_env chroot $R /usr/local/zuul/bin/pip install -q --disable-pip-version-check "zuul==$ZUUL_VERSION"
  chroot $R useradd --uid 10001 --gid 0 --home-dir /var/lib/zuul --create-home zuul
  chmod -R g=u $R/var/lib/zuul
  local env=(--config.env PATH=/usr/local/zuul/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --config.env LANG=C.UTF-8 --config.workingdir /var/lib/zuul --config.user 10001:0
    --config.entrypoint /usr/bin/dumb-init --config.entrypoint --)
  pack $R "$ZUUL_IMAGE" "$1" "${env[@]}" --config.cmd zuul-scheduler
  log "building $EXECUTOR_IMAGE"
  # zuul-manage-ansible installs every supported Ansible under <exec_prefix>/lib/zuul/ansible,
  # i.e. inside /usr, where bubblewrap binds it; the executor then runs with manage_ansible=false.
  mount_root $R
  pip_env chroot $R /usr/local/zuul/bin/zuul-manage-ansible
  install -m 0755 "$BIN/kubectl" "$R/usr/local/bin/kubectl"
  pack $R "$EXECUTOR_IMAGE" "$2" "${env[@]}" --config.cmd zuul-executor
  rm -rf $R
}

build_zookeeper() {
  local R=rootfs-zookeeper
  log "building $ZOOKEEPER_IMAGE"
  root_with $R zookeeper openjdk-17-jre-headless libnetty-java libslf4j-java
  # Debian's zookeeper.jar manifest lacks netty-codec and an slf4j binding (as up.sh's ZooKeeper).
  cat > $R/usr/local/bin/zkServer.sh <<'SH'
#!/bin/sh
# kubepool-zookeeper: `zkServer.sh start-foreground CFG`, as the operator's StatefulSet runs it.
[ "$1" = start-foreground ] || { echo "only start-foreground is supported" >&2; exit 2; }
CP=/usr/share/java/zookeeper.jar
for j in netty-codec netty-resolver slf4j-simple; do CP=$CP:/usr/share/java/$j.jar; done
exec java $JVMFLAGS -cp "$CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$2"
SH
  chmod 0755 $R/usr/local/bin/zkServer.sh
  # (the package made the user zookeeper; the pod's fsGroup gives it the data volume)
  local uid; uid=$(chroot $R id -u zookeeper)
  pack $R "$ZOOKEEPER_IMAGE" "$1" --config.user "$uid:0" --config.workingdir / \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.cmd zkServer.sh
  rm -rf $R
}

build_postgres() {
  local R=rootfs-postgres
  log "building $POSTGRES_IMAGE"
  root_with $R postgresql-15
  cat > $R/usr/local/bin/kubepool-postgres <<'SH'
#!/bin/sh
# kubepool-postgres: on first start a cluster in $PGDATA with database $POSTGRES_DB owned by
# $POSTGRES_USER (password $POSTGRES_PASSWORD, scram-sha-256 from anywhere); then the server.
set -eu
B=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  $B/initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  $B/pg_ctl -D "$PGDATA" -o "-c listen_addresses= -c unix_socket_directories=/tmp" -w start >/dev/null
  $B/psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE USER \"$POSTGRES_USER\" PASSWORD '$POSTGRES_PASSWORD'" \
    -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
  $B/pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec $B/postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
SH
  chmod 0755 $R/usr/local/bin/kubepool-postgres
  local uid; uid=$(chroot $R id -u postgres)
  pack $R "$POSTGRES_IMAGE" "$1" --config.user "$uid:$uid" --config.workingdir /tmp \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env LANG=C.UTF-8 --config.cmd kubepool-postgres
  rm -rf $R
}

build_mariadb() {
  local R=rootfs-mariadb
  log "building $MARIADB_IMAGE"
  root_with $R mariadb-server mariadb-client
  cat > $R/usr/local/bin/kubepool-mariadb <<'SH'
#!/bin/sh
# kubepool-mariadb: on first start a data directory in $DATADIR whose root (localhost and any
# host; no other root, no anonymous user) has the password $MYSQL_ROOT_PASSWORD, as the
# Percona image's; then the server on port 3306. Runs as any uid that can write $DATADIR (an
# emptyDir).
set -eu
: "${DATADIR:=/var/lib/mysql/data}"
OPTS="--datadir=$DATADIR --pid-file=/tmp/mariadbd.pid --socket=/tmp/mariadbd.sock"
if [ ! -d "$DATADIR/mysql" ]; then
  mkdir -p "$DATADIR"
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal >/dev/null
  mariadbd $OPTS --skip-networking &
  pid=$!
  i=0; until mariadb-admin --socket=/tmp/mariadbd.sock -uroot ping >/dev/null 2>&1; do
    i=$((i+1)); [ $i -lt 120 ] || { echo "mariadbd did not start" >&2; exit 1; }; sleep 0.5; done
  mariadb --socket=/tmp/mariadbd.sock -uroot <<SQL
CREATE USER 'root'@'%' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost', '%'));
FLUSH PRIVILEGES;
SQL
  kill "$pid"; wait "$pid" || true
  echo "kubepool-mariadb: initialised $DATADIR"
fi
exec mariadbd $OPTS --bind-address=0.0.0.0 --port=3306
SH
  chmod 0755 $R/usr/local/bin/kubepool-mariadb
  # the server's socket and pid file where any uid can write them; clients find the socket
  printf '[client]\nsocket=/tmp/mariadbd.sock\n[mysqld]\nsocket=/tmp/mariadbd.sock\npid-file=/tmp/mariadbd.pid\n' \
    > $R/etc/mysql/mariadb.conf.d/99-kubepool.cnf
  local uid; uid=$(chroot $R id -u mysql)
  pack $R "$MARIADB_IMAGE" "$1" --config.user "$uid:0" --config.workingdir /tmp \
    --config.env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 --config.cmd kubepool-mariadb
  rm -rf $R
}

# The recipe hash of an image: the helpers, the build function and the versions.
recipe() {
  { declare -f root_with mount_root unmount_proc pack pip_env "$1"
    echo "$ZUUL_VERSION $ZUUL_IMAGE $EXECUTOR_IMAGE $ZOOKEEPER_IMAGE $POSTGRES_IMAGE"; } | sha256sum | cut -c1-12
}
ZUUL_KEY=$(recipe build_zuul)
ZOOKEEPER_KEY=$(recipe build_zookeeper)
POSTGRES_KEY=$(recipe build_postgres)
MARIADB_KEY=$(recipe build_mariadb)
WANTED="zuul-$ZUUL_KEY.tar zuul-executor-$ZUUL_KEY.tar zookeeper-$ZOOKEEPER_KEY.tar postgres-$POSTGRES_KEY.tar"
WANTED="$WANTED mariadb-$MARIADB_KEY.tar"
# Tarballs of an earlier recipe go (up.sh imports every one it finds).
for f in zuul-*.tar zookeeper-*.tar postgres-*.tar mariadb-*.tar; do
  [ -f "$f" ] || continue
  case " $WANTED " in *" $f "*) ;; *) log "removing the outdated $f"; rm -f "$f" ;; esac
done

timed() {  # timed NAME FUNCTION TARBALL...: builds unless every tarball is there
  local name=$1 fn=$2 s; shift 2
  local t missing=0
  for t in "$@"; do [ -f "$t" ] || missing=1; done
  [ $missing = 1 ] || return 0
  s=$(date +%s)
  "$fn" "$@"
  echo "$(date -u +%FT%TZ) $name $(( $(date +%s) - s ))s" >> "$CACHE/build-times.txt"
}
timed ZUUL-IMAGES build_zuul "zuul-$ZUUL_KEY.tar" "zuul-executor-$ZUUL_KEY.tar"
timed ZOOKEEPER-IMAGE build_zookeeper "zookeeper-$ZOOKEEPER_KEY.tar"
timed POSTGRES-IMAGE build_postgres "postgres-$POSTGRES_KEY.tar"
timed MARIADB-IMAGE build_mariadb "mariadb-$MARIADB_KEY.tar"

if [ $IMPORT = 1 ] && [ -S "$CONTAINERD_SOCK" ]; then
  CTR="ctr --address $CONTAINERD_SOCK -n k8s.io"
  present=$($CTR images ls -q)
  for pair in "$ZUUL_IMAGE=zuul-$ZUUL_KEY.tar" "$EXECUTOR_IMAGE=zuul-executor-$ZUUL_KEY.tar" \
              "$ZOOKEEPER_IMAGE=zookeeper-$ZOOKEEPER_KEY.tar" "$POSTGRES_IMAGE=postgres-$POSTGRES_KEY.tar" \
              "$MARIADB_IMAGE=mariadb-$MARIADB_KEY.tar"; do
    img=${pair%=*}; tar=${pair#*=}
    # (a rebuilt recipe keeps the name: compare the tarball's stamp with the import's)
    if ! grep -x "$img" <<<"$present" >/dev/null || [ "$(cat "$IMAGES/.imported-${tar%-*}" 2>/dev/null)" != "$tar" ]; then
      log "importing $img"
      $CTR images import "$IMAGES/$tar" >/dev/null
      echo "$tar" > "$IMAGES/.imported-${tar%-*}"
    fi
  done
fi
ls -la "$IMAGES"/zuul-*.tar "$IMAGES"/zookeeper-*.tar "$IMAGES"/postgres-*.tar "$IMAGES"/mariadb-*.tar >&2
