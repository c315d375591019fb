# kubepool exec: the supervisor that runs a command in the pod (POSIX sh + coreutils).
# argv: $1 mode (start | start-stdin | attach), $2 run id, $3 stdout offset, $4 stderr offset, $5 runs whose
# results were received (comma-separated, "-" for none; start removes them), then the command.
# start: the command runs detached, its stdout, stderr and exit code kept in files under
# $TMPDIR/.kubepool-exec/<id>; attach: streams those files from the given byte offsets.
# stdin (start-stdin only): the first byte chooses "R" (raw; the stream's end closes it) or "F"
# (framed: "<len>\n<bytes>" chunks ended by "0\n", for protocols without half-close). Without
# stdin, stdin is never read (some runtimes give the command an open pipe all the same).
# spare: started ahead of its command (so a command does not wait for an exec handshake); says
# KUBEPOOL-SPARE-1 on stdout, then reads "<len>\n<sh words>" on stdin: the arguments above.
# A stream that ends first (the spare was not needed) ends it quietly.
# channel: the persistent channel's server: one exec stream, one run after another. Says
# KUBEPOOL-CHANNEL-1 on stdout, then reads requests, one line of sh words each (a newline in a
# word is written '"$nl"'): an end marker, the byte count of the command's stdin, then the
# arguments above with mode start or start-file. With a count above 0 exactly that many bytes
# follow, then the line "end" (the command's whole stdin, kept in the run's directory: mode
# start-file). Each run prints its own KUBEPOOL-EXEC-1 and output as above, then
# "<marker> <exit code or ->\n" on stdout and "<marker>\n" on stderr. The end of its stdin (the
# stream closed) ends the server.
set -u
supervise() {
  mode=$1 id=$2 oo=$3 eo=$4 received=$5
  shift 5
  base=${TMPDIR:-/tmp}/.kubepool-exec
  d=$base/$id
  if [ "$mode" = start ] || [ "$mode" = start-stdin ] || [ "$mode" = start-file ]; then
    # The command gets the container's umask; the supervisor's files are private.
    [ -n "${um:-}" ] || um=$(umask)
    umask 077
    # (start-file: the channel made the run's directory)
    if [ "$mode" != start-file ]; then
      { [ -d "$base" ] || mkdir -p "$base"; } && mkdir "$d" || { echo "kubepool exec: cannot create $d" >&2; exit 255; }
    fi
    # (shell builtins where they do: every process started here is time a short command waits)
    IFS=,
    for old in $received; do
      case $old in *[!0-9a-f]*) ;; *) rm -rf "${base:?}/$old" ;; esac
    done
    unset IFS
    # Runs nobody came back for (a channel looks once, at its first run).
    [ -n "${swept:-}" ] || find "$base" -mindepth 2 -maxdepth 2 -name rc -mmin +10 2>/dev/null | while IFS= read -r f; do
      rm -rf "${f%/rc}"
    done
    : >"$d/out" && : >"$d/err" || exit 255
    case $mode in
      start) sm=N ;;
      start-file) sm=P ;;
      *) sm=$(head -c 1) ;;
    esac
    dec() {
      while IFS= read -r n; do
        case $n in '' | *[!0-9]*) return 1 ;; 0) : >"$d/stdin-complete"; return 0 ;; esac
        head -c "$n" || return 1
      done
      return 1
    }
    # Framed stdin reaches the command through a FIFO, not a pipeline: the run ends when the
    # command does, even while the client keeps its stdin open (rsync waits for the remote end to
    # exit before it closes its side), and the decoder is stopped then.
    [ "$sm" != F ] || mkfifo "$d/stdin" || exit 255
    run() {
      umask "$um"
      case $sm in
        F)
          # (fd 4: an asynchronous command's own stdin would be /dev/null)
          exec 4<&0
          dec <&4 4<&- >"$d/stdin" &
          feeder=$!
          exec 4<&-
          "$@" <"$d/stdin"
          rc=$?
          kill "$feeder" 2>/dev/null
          ;;
        R) "$@"; rc=$? ;;
        P) "$@" <"$d/stdin"; rc=$? ;;
        *) "$@" </dev/null; rc=$? ;;
      esac
      # (one write: a reader that finds the file empty waits for it)
      echo "$rc" >"$d/rc"
    }
    # An asynchronous command's stdin is /dev/null unless redirected explicitly.
    exec 3<&0
    run "$@" <&3 3<&- >"$d/out" 2>"$d/err" &
    watch=$!
    exec 0</dev/null 3<&-
  else
    [ -d "$d" ] || { echo "kubepool exec: run $id is unknown in this container" >&2; exit 255; }
    # The runner may be a zombie nobody reaps (PID 1 of many containers does not): follow the
    # exit code file instead of its process.
    # (a run directory removed meanwhile, by a channel whose stdin did not end whole: no code)
    ( while [ ! -s "$d/rc" ] && [ -d "$d" ]; do sleep 0.2; done ) &
    watch=$!
  fi
  # The followers end with this supervisor if it is killed (util-linux setpriv, when there):
  # otherwise they would follow a runner that, orphaned and never reaped, never ends, and the
  # stream would stay open without an exit status.
  pd=
  command -v setpriv >/dev/null 2>&1 && pd="setpriv --pdeathsig KILL --"
  printf 'KUBEPOOL-EXEC-1\n'
  $pd tail -c +$((oo + 1)) -s 0.01 --pid="$watch" -f "$d/out" &
  t1=$!
  $pd tail -c +$((eo + 1)) -s 0.01 --pid="$watch" -f "$d/err" >&2 &
  t2=$!
  wait "$t1"
  wait "$t2"
  wait "$watch" 2>/dev/null
  if [ -f "$d/rc" ]; then
    IFS= read -r rc <"$d/rc"
    exit "$rc"
  fi
  echo "kubepool exec: the command of run $id ended without an exit code" >&2
  exit 255
}
if [ "$1" = channel ]; then
  base=${TMPDIR:-/tmp}/.kubepool-exec
  um=$(umask)
  umask 077
  { [ -d "$base" ] || mkdir -p "$base"; } || exit 255
  # (a newline, for request words that hold one: the request is one line)
  nl=$(printf '\nx')
  nl=${nl%x}
  printf 'KUBEPOOL-CHANNEL-1\n'
  while IFS= read -r a; do
    eval "set -- $a"
    marker=$1 size=$2
    shift 2
    case $size in '' | *[!0-9]*) exit 255 ;; esac
    d=$base/$2
    started=y
    if [ "$size" -gt 0 ]; then
      if mkdir "$d"; then
        head -c "$size" >"$d/stdin" || exit 255
      else
        echo "kubepool exec: cannot create $d" >&2
        head -c "$size" >/dev/null || exit 255
        started=
      fi
      # the stdin is whole only if the end line follows it; else nothing runs
      IFS= read -r t && [ "$t" = end ] || { [ -z "$started" ] || rm -rf "$d"; exit 255; }
    fi
    [ -z "$started" ] || (supervise "$@") </dev/null
    rc=-
    [ -z "$started" ] || [ ! -f "$d/rc" ] || IFS= read -r rc <"$d/rc"
    printf '%s %s\n' "$marker" "$rc"
    printf '%s\n' "$marker" >&2
    swept=1
  done
  exit 0
fi
if [ "$1" = spare ]; then
  printf 'KUBEPOOL-SPARE-1\n'
  IFS= read -r n || exit 0
  case $n in '' | *[!0-9]*) exit 0 ;; esac
  a=$(head -c "$n") || exit 255
  eval "set -- $a"
fi
supervise "$@"
