#!/bin/sh
# Makes Zuul's executor use kubepool for pod nodes, without patching Zuul (docs/zuul-executor.md):
#   * kubepool's connection plugin as `kubectl.py` in a connection plugin directory: it wins over
#     Ansible's redirect of `kubectl` to kubernetes.core.kubectl, so every task on a pod node runs
#     through `kubepool exec` while the inventory still says `kubectl`;
#   * a `kubectl` wrapper for the executor's PATH: `port-forward` (Zuul's console log forward) and
#     `exec` go to kubepool, everything else to the real kubectl.
#
# install.sh [--plugin-dir DIR] [--bin-dir DIR] [--kubectl PATH] [--kubepool PATH]
#   --plugin-dir  default /usr/share/ansible/plugins/connection (seen inside bubblewrap; another
#                 directory must be named by ANSIBLE_CONNECTION_PLUGINS in zuul-executor's
#                 environment and listed in trusted_ro_paths and untrusted_ro_paths)
#   --bin-dir     default /usr/local/lib/kubepool/bin (put it first on zuul-executor's PATH)
#   --kubectl     the real kubectl (default: the one on PATH now)
#   --kubepool    the kubepool binary (default: the one on PATH now)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
plugin_dir=/usr/share/ansible/plugins/connection
bin_dir=/usr/local/lib/kubepool/bin
real_kubectl=
kubepool=
while [ $# -gt 0 ]; do
  case $1 in
    --plugin-dir) plugin_dir=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --kubectl) real_kubectl=$2; shift 2 ;;
    --kubepool) kubepool=$2; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$real_kubectl" ] || real_kubectl=$(command -v kubectl) || { echo "install.sh: no kubectl on PATH (--kubectl)" >&2; exit 1; }
[ -n "$kubepool" ] || kubepool=$(command -v kubepool) || { echo "install.sh: no kubepool on PATH (--kubepool)" >&2; exit 1; }
case $real_kubectl in
  "$bin_dir"/kubectl) echo "install.sh: --kubectl is the wrapper itself; name the real kubectl" >&2; exit 1 ;;
esac
plugin=$here/../../ansible-plugins/plugins/connection/kubectl.py
[ -f "$plugin" ] || { echo "install.sh: $plugin not found (run from a kubepool checkout)" >&2; exit 1; }

mkdir -p "$plugin_dir" "$bin_dir"
install -m 0644 "$plugin" "$plugin_dir/kubectl.py"
escape() { printf '%s' "$1" | sed "s/'/'\\\\''/g; s/[&|]/\\\\&/g"; }
sed -e "s|@REAL_KUBECTL@|$(escape "$real_kubectl")|" -e "s|@KUBEPOOL@|$(escape "$kubepool")|" \
  "$here/kubectl.in" > "$bin_dir/kubectl.tmp"
chmod 0755 "$bin_dir/kubectl.tmp"
mv "$bin_dir/kubectl.tmp" "$bin_dir/kubectl"
echo "connection plugin: $plugin_dir/kubectl.py"
echo "kubectl wrapper:   $bin_dir/kubectl (real kubectl: $real_kubectl, kubepool: $kubepool)"
