//! The nodepool.yaml schema of Nodepool 11.0.0 for the top level and the kubernetes,
//! openshift and openshiftpods drivers (`nodepool/cmd/config_validator.py`,
//! `nodepool/driver/{kubernetes,openshift,openshiftpods}/config.py`), with kubepool's
//! deviations marked "kubepool:" (see docs/config.md).

use super::check::{Field, Schema, Struct, opt, req};
use super::model::Driver;

const STR: &Schema = &Schema::Str;
const INT: &Schema = &Schema::Int;
const DICT: &Schema = &Schema::Dict;
const LIST: &Schema = &Schema::List;
const STR_INT_MAP: &Schema = &Schema::MapOf(&Schema::Int);

// ---- top level ----

static WEBAPP: Struct =
    Struct { what: "webapp", groups: &[&[opt("port", INT), opt("listen_address", STR)]], extra: None, marker: None };

static ZOOKEEPER_SERVER: Struct = Struct {
    what: "a zookeeper-servers entry",
    // kubepool: `host` is required (Nodepool's validator lets it out, then its loader fails).
    groups: &[&[req("host", STR), opt("port", INT), opt("chroot", STR)]],
    extra: None,
    marker: None,
};

static ZOOKEEPER_TLS: Struct = Struct {
    what: "zookeeper-tls",
    groups: &[&[req("cert", STR), req("key", STR), req("ca", STR)]],
    extra: None,
    marker: None,
};

static LABEL: Struct = Struct {
    what: "a top-level label",
    // kubepool: `name` is required (Nodepool's loader fails without it).
    groups: &[&[req("name", STR), opt("min-ready", INT), opt("max-ready-age", INT)]],
    extra: None,
    marker: None,
};

static TENANT_LIMIT: Struct = Struct {
    what: "a tenant-resource-limits entry",
    groups: &[&[req("tenant-name", STR), opt("max-cores", INT), opt("max-ram", INT), opt("max-servers", INT)]],
    extra: Some(INT),
    marker: None,
};

static DISKIMAGE: Struct = Struct {
    what: "a diskimage",
    groups: &[&[
        req("name", STR),
        opt("abstract", &Schema::Bool),
        opt("dib-cmd", STR),
        opt("pause", &Schema::Bool),
        opt("elements", &Schema::ListOf(STR)),
        opt("formats", &Schema::ListOf(STR)),
        opt("keep-formats", &Schema::ListOf(STR)),
        opt("delete-after-upload", &Schema::Bool),
        opt("parent", STR),
        opt("release", &Schema::StrOrInt),
        opt("rebuild-age", INT),
        opt("env-vars", &Schema::MapOf(STR)),
        opt("username", STR),
        opt("python-path", STR),
        opt("build-timeout", INT),
        opt("metadata", DICT),
    ]],
    extra: None,
    marker: None,
};

/// The top-level keys; `providers` entries are checked per driver.
pub static TOP_LEVEL: Schema = Schema::Struct(&Struct {
    what: "the top level",
    groups: &[&[
        opt("webapp", &Schema::Struct(&WEBAPP)),
        opt("elements-dir", STR),
        opt("images-dir", STR),
        opt("build-log-dir", STR),
        opt("build-log-retention", INT),
        opt("zookeeper-servers", &Schema::ListOf(&Schema::Struct(&ZOOKEEPER_SERVER))),
        opt("zookeeper-tls", &Schema::Struct(&ZOOKEEPER_TLS)),
        opt("zookeeper-timeout", &Schema::Float),
        opt("providers", LIST),
        opt("labels", &Schema::ListOf(&Schema::Struct(&LABEL))),
        opt("diskimages", &Schema::ListOf(&Schema::Struct(&DISKIMAGE))),
        opt("max-hold-age", INT),
        opt("tenant-resource-limits", &Schema::ListOf(&Schema::Struct(&TENANT_LIMIT))),
    ]],
    extra: None,
    marker: None,
});

// ---- labels ----

static ENV_VAR: Struct =
    Struct { what: "an env entry", groups: &[&[req("name", STR), req("value", STR)]], extra: None, marker: None };

/// Keys every label may have, in both forms.
static META: &[Field] = &[opt("labels", DICT), opt("dynamic-labels", DICT), opt("annotations", DICT)];

/// The keys of a label whose pod Nodepool builds (besides name/type/image).
static POD: &[Field] = &[
    opt("image-pull", STR),
    opt("python-path", STR),
    opt("shell-type", STR),
    opt("cpu", INT),
    opt("memory", INT),
    opt("storage", INT),
    opt("cpu-limit", INT),
    opt("memory-limit", INT),
    opt("storage-limit", INT),
    // kubepool: an int is accepted as well as a float (Nodepool rejects `gpu: 1`).
    opt("gpu", &Schema::Number),
    opt("gpu-resource", STR),
    opt("env", &Schema::ListOf(&Schema::Struct(&ENV_VAR))),
    opt("node-selector", DICT),
    opt("privileged", &Schema::Bool),
    opt("scheduler-name", STR),
    opt("volumes", LIST),
    opt("volume-mounts", LIST),
    opt("extra-resources", STR_INT_MAP),
];

static NAME_TYPE: &[Field] = &[req("name", STR), req("type", STR)];
static NAME: &[Field] = &[req("name", STR)];
static SPEC: &[Field] = &[req("spec", DICT)];
static PULL_SECRETS: &[Field] = &[opt("image-pull-secrets", LIST)];

static K8S_LABEL: Struct = Struct {
    what: "a kubernetes label",
    groups: &[NAME_TYPE, &[opt("image", STR)], POD, META],
    extra: None,
    marker: None,
};
static K8S_SPEC_LABEL: Struct = Struct {
    what: "a kubernetes label with spec",
    groups: &[NAME_TYPE, SPEC, META],
    extra: None,
    marker: Some("spec"),
};

static OPENSHIFT_LABEL: Struct = Struct {
    what: "an openshift label",
    groups: &[NAME_TYPE, &[opt("image", STR)], PULL_SECRETS, POD, META],
    extra: None,
    marker: None,
};
static OPENSHIFT_SPEC_LABEL: Struct = Struct {
    what: "an openshift label with spec",
    groups: &[NAME_TYPE, SPEC, META],
    extra: None,
    marker: Some("spec"),
};

static PODS_LABEL: Struct = Struct {
    what: "an openshiftpods label",
    groups: &[NAME, &[req("image", STR)], PULL_SECRETS, POD, META],
    extra: None,
    marker: None,
};
static PODS_SPEC_LABEL: Struct =
    Struct { what: "an openshiftpods label with spec", groups: &[NAME, SPEC, META], extra: None, marker: Some("spec") };

// ---- pools ----

/// Pool keys of all three drivers (`ConfigPool.getCommonSchemaDict` and the drivers' own).
static POOL: &[Field] = &[
    opt("max-servers", INT),
    opt("node-attributes", DICT),
    opt("priority", INT),
    req("name", STR),
    opt("max-cores", INT),
    opt("max-ram", INT),
    opt("max-resources", STR_INT_MAP),
    opt("default-label-cpu", INT),
    opt("default-label-memory", INT),
    opt("default-label-storage", INT),
    opt("default-label-cpu-limit", INT),
    opt("default-label-memory-limit", INT),
    opt("default-label-storage-limit", INT),
    opt("default-label-extra-resources", STR_INT_MAP),
];

static K8S_POOL: Struct = Struct {
    what: "a kubernetes pool",
    groups: &[POOL, &[req("labels", &Schema::ListOf(&Schema::Forms(&[&K8S_LABEL, &K8S_SPEC_LABEL])))]],
    extra: None,
    marker: None,
};
static OPENSHIFT_POOL: Struct = Struct {
    what: "an openshift pool",
    groups: &[POOL, &[req("labels", &Schema::ListOf(&Schema::Forms(&[&OPENSHIFT_LABEL, &OPENSHIFT_SPEC_LABEL])))]],
    extra: None,
    marker: None,
};
static PODS_POOL: Struct = Struct {
    what: "an openshiftpods pool",
    groups: &[POOL, &[req("labels", &Schema::ListOf(&Schema::Forms(&[&PODS_LABEL, &PODS_SPEC_LABEL])))]],
    extra: None,
    marker: None,
};

// ---- providers ----

/// Provider keys of all three drivers (`ProviderConfig.getCommonSchemaDict` and the drivers').
static PROVIDER: &[Field] = &[
    req("name", STR),
    opt("driver", STR),
    opt("max-concurrency", INT),
    opt("priority", INT),
    opt("launch-retries", INT),
    opt("max-cores", INT),
    opt("max-ram", INT),
    opt("max-resources", STR_INT_MAP),
];

static K8S_PROVIDER: Schema = Schema::Struct(&Struct {
    what: "a kubernetes provider",
    groups: &[
        PROVIDER,
        &[opt("context", STR), opt("max-servers", INT)],
        &[req("pools", &Schema::ListOf(&Schema::Struct(&K8S_POOL)))],
    ],
    extra: None,
    marker: None,
});
static OPENSHIFT_PROVIDER: Schema = Schema::Struct(&Struct {
    what: "an openshift provider",
    groups: &[
        PROVIDER,
        &[req("context", STR), opt("max-projects", INT)],
        &[req("pools", &Schema::ListOf(&Schema::Struct(&OPENSHIFT_POOL)))],
    ],
    extra: None,
    marker: None,
});
static PODS_PROVIDER: Schema = Schema::Struct(&Struct {
    what: "an openshiftpods provider",
    groups: &[
        PROVIDER,
        &[req("context", STR), opt("max-pods", INT)],
        &[req("pools", &Schema::ListOf(&Schema::Struct(&PODS_POOL)))],
    ],
    extra: None,
    marker: None,
});

// ---- openstack (checked, not served: a provider without `driver` is one, as in Nodepool) ----

static OPENSTACK_DISKIMAGE: Struct = Struct {
    what: "an openstack provider diskimage",
    groups: &[&[
        opt("name", STR),
        opt("pause", &Schema::Bool),
        opt("meta", DICT),
        opt("config-drive", &Schema::Bool),
        opt("connection-type", STR),
        opt("connection-port", INT),
    ]],
    extra: None,
    marker: None,
};

static OPENSTACK_CLOUD_IMAGE_KEYS: &[Field] = &[
    opt("name", STR),
    opt("config-drive", &Schema::Bool),
    opt("connection-type", STR),
    opt("connection-port", INT),
    opt("username", STR),
    opt("python-path", STR),
    opt("shell-type", STR),
];
static OPENSTACK_CLOUD_IMAGE_BY_ID: Struct = Struct {
    what: "an openstack cloud-image",
    groups: &[OPENSTACK_CLOUD_IMAGE_KEYS, &[opt("image-id", STR)]],
    extra: None,
    marker: Some("image-id"),
};
static OPENSTACK_CLOUD_IMAGE_BY_NAME: Struct = Struct {
    what: "an openstack cloud-image",
    groups: &[OPENSTACK_CLOUD_IMAGE_KEYS, &[opt("image-name", STR)]],
    extra: None,
    marker: None,
};

/// Keys of an openstack pool label besides its image and its size (`pool_label_main`).
static OPENSTACK_LABEL_KEYS: &[Field] = &[
    req("name", STR),
    opt("key-name", STR),
    opt("console-log", &Schema::Bool),
    opt("boot-from-volume", &Schema::Bool),
    opt("volume-size", INT),
    opt("instance-properties", DICT),
    opt("dynamic-instance-properties", DICT),
    opt("userdata", STR),
    opt("networks", &Schema::ListOf(STR)),
    opt("host-key-checking", &Schema::Bool),
];
static BY_RAM: &[Field] = &[req("min-ram", INT), opt("flavor-name", STR)];
static BY_FLAVOR: &[Field] = &[opt("min-ram", INT), req("flavor-name", STR)];
static FROM_DISKIMAGE: &[Field] = &[req("diskimage", STR)];
static FROM_CLOUD_IMAGE: &[Field] = &[req("cloud-image", STR)];

/// `v.All(pool_label_main, v.Any(min-ram, flavor-name), v.Any(diskimage, cloud-image))` with
/// `diskimage` and `cloud-image` exclusive: one form per combination.
static OPENSTACK_LABEL_FORMS: [&Struct; 4] = [
    &Struct {
        what: "an openstack label",
        groups: &[OPENSTACK_LABEL_KEYS, BY_RAM, FROM_DISKIMAGE],
        extra: None,
        marker: Some("diskimage"),
    },
    &Struct {
        what: "an openstack label",
        groups: &[OPENSTACK_LABEL_KEYS, BY_FLAVOR, FROM_DISKIMAGE],
        extra: None,
        marker: Some("diskimage"),
    },
    &Struct {
        what: "an openstack label",
        groups: &[OPENSTACK_LABEL_KEYS, BY_RAM, FROM_CLOUD_IMAGE],
        extra: None,
        marker: Some("cloud-image"),
    },
    &Struct {
        what: "an openstack label",
        groups: &[OPENSTACK_LABEL_KEYS, BY_FLAVOR, FROM_CLOUD_IMAGE],
        extra: None,
        marker: None,
    },
];

static OPENSTACK_POOL: Struct = Struct {
    what: "an openstack pool",
    groups: &[&[
        opt("max-servers", INT),
        opt("node-attributes", DICT),
        opt("priority", INT),
        opt("name", STR),
        opt("networks", &Schema::ListOf(STR)),
        opt("auto-floating-ip", &Schema::Bool),
        opt("host-key-checking", &Schema::Bool),
        opt("ignore-provider-quota", &Schema::Bool),
        opt("max-cores", INT),
        opt("max-ram", INT),
        opt("max-volumes", INT),
        opt("max-volume-gb", INT),
        opt("labels", &Schema::ListOf(&Schema::Forms(&OPENSTACK_LABEL_FORMS))),
        opt("availability-zones", &Schema::ListOf(STR)),
        opt("security-groups", &Schema::ListOf(STR)),
    ]],
    extra: None,
    marker: None,
};

/// An openstack provider (`nodepool/driver/openstack/config.py`): what a provider without
/// `driver` is. kubepool does not serve it, but checks it as Nodepool does, so that keys of a
/// Kubernetes provider written without `driver: kubernetes` are found.
pub static OPENSTACK_PROVIDER: Schema = Schema::Struct(&Struct {
    what: "an openstack provider",
    groups: &[
        &[req("name", STR), opt("driver", STR), opt("max-concurrency", INT), opt("priority", INT)],
        &[
            opt("region-name", STR),
            req("cloud", STR),
            opt("boot-timeout", INT),
            opt("image-upload-timeout", INT),
            opt("launch-timeout", INT),
            opt("launch-retries", INT),
            opt("nodepool-id", STR),
            // Nodepool: `v.Coerce(float)`.
            opt("rate", &Schema::Number),
            opt("image-name-format", STR),
            opt("clean-floating-ips", &Schema::Bool),
            opt("port-cleanup-interval", INT),
            opt("pools", &Schema::ListOf(&Schema::Struct(&OPENSTACK_POOL))),
            opt("diskimages", &Schema::ListOf(&Schema::Struct(&OPENSTACK_DISKIMAGE))),
            opt(
                "cloud-images",
                &Schema::ListOf(&Schema::Forms(&[&OPENSTACK_CLOUD_IMAGE_BY_ID, &OPENSTACK_CLOUD_IMAGE_BY_NAME])),
            ),
            opt("post-upload-hook", STR),
        ],
    ],
    extra: None,
    marker: None,
});

/// The schema of a provider of `driver`.
pub fn provider(driver: Driver) -> &'static Schema {
    match driver {
        Driver::Kubernetes => &K8S_PROVIDER,
        Driver::Openshift => &OPENSHIFT_PROVIDER,
        Driver::OpenshiftPods => &PODS_PROVIDER,
    }
}
