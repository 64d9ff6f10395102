//! Compile-fail tests: one rule of `#[derive(Versioned)]` per file under
//! `tests/ui/<category>/`, each with its expected `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*/*.rs");
}
