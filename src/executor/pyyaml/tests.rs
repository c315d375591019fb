//! Expected texts were produced by PyYAML 6.0.3 with libyaml (`zuul.lib.yamlutil.safe_dump`
//! and `ansible_unsafe_dump`, `default_flow_style=False`); the differential test in
//! `tests/executor_render.rs` compares many more values against the real Zuul code.

use super::*;
use std::rc::Rc;

#[test]
fn block_document_with_quoting_folding_and_escapes() {
    let value = Yaml::map([
        ("b", Yaml::Seq(vec![Yaml::Int(1), Yaml::str("two"), Yaml::map([("x", Yaml::Null), ("y", Yaml::Bool(true))])])),
        ("a", Yaml::map::<String>([])),
        ("c", Yaml::Seq(vec![])),
        ("long", Yaml::str("word ".repeat(30))),
        ("quote", Yaml::str("it's")),
        ("num", Yaml::str("123")),
        ("uni", Yaml::str("héllo")),
        ("multi", Yaml::str("a\nb")),
        ("e", Yaml::str("")),
        ("f", Yaml::Float(1.5)),
        ("colon", Yaml::str("a: b")),
        ("dash", Yaml::str("- x")),
        ("key with spaces", Yaml::str("k8s-example-com:6443")),
    ]);
    let expected = "a: {}\nb:\n- 1\n- two\n- x: null\n  y: true\nc: []\ncolon: 'a: b'\ndash: '- x'\ne: ''\nf: 1.5\n\
key with spaces: k8s-example-com:6443\nlong: 'word word word word word word word word word word word word word word word\n  \
word word word word word word word word word word word word word word word '\nmulti: 'a\n\n  b'\nnum: '123'\n\
quote: it's\nuni: \"h\\xE9llo\"\n";
    assert_eq!(dump(&value), expected);
}

#[test]
fn a_collection_referenced_twice_gets_an_anchor_and_an_alias() {
    let shared = Rc::new(Yaml::map::<String>([]));
    let value = Yaml::map([
        (
            "h",
            Yaml::map([
                ("nodepool", Yaml::map([("p", Yaml::Shared(shared.clone()))])),
                ("zuul_node", Yaml::map([("p", Yaml::Shared(shared))])),
            ]),
        ),
        ("list", Yaml::Seq(vec![Yaml::Seq(vec![Yaml::Int(1)]), Yaml::Seq(vec![])])),
    ]);
    assert_eq!(dump(&value), "h:\n  nodepool:\n    p: &id001 {}\n  zuul_node:\n    p: *id001\nlist:\n- - 1\n- []\n");
}

#[test]
fn a_shared_scalar_is_never_aliased() {
    let shared = Rc::new(Yaml::str("x"));
    let value = Yaml::map([("a", Yaml::Shared(shared.clone())), ("b", Yaml::Shared(shared))]);
    assert_eq!(dump(&value), "a: x\nb: x\n");
}

#[test]
fn long_keys_become_complex_keys() {
    let value = Yaml::map([
        ("x".repeat(130), Yaml::Int(1)),
        ("s".to_string(), Yaml::Seq(vec![Yaml::map([("a", Yaml::Int(1)), ("b", Yaml::Seq(vec![Yaml::Int(2)]))])])),
    ]);
    assert_eq!(dump(&value), format!("s:\n- a: 1\n  b:\n  - 2\n? {}\n: 1\n", "x".repeat(130)));
}
