//! The committed JSON schemas match the code: `schema/plan.schema.json` (the resolved model that
//! `planrun show --json` prints) and `schema/project.schema.json` (`planrun.toml`).
//! Regenerate with `PLANRUN_UPDATE_SCHEMA=1 cargo test -p planrun-plans --test schema`.

use std::path::Path;

use plans::model::Plan;
use plans::project::Project;

fn check_fresh(file: &str, schema: schemars::Schema) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema").join(file);
    let fresh = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("PLANRUN_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/{file} is stale: run PLANRUN_UPDATE_SCHEMA=1 cargo test -p planrun-plans --test schema"
    );
}

#[test]
fn plan_schema_is_fresh() {
    check_fresh("plan.schema.json", schemars::schema_for!(Plan));
}

#[test]
fn project_schema_is_fresh() {
    check_fresh("project.schema.json", schemars::schema_for!(Project));
}

#[test]
fn show_output_of_an_example_fits_the_schema_shape() {
    // Not a full validator: every top-level property the model prints is one the schema names.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prodstack/plan.kdl")).unwrap();
    let checked = plans::check(plans::SourceFile::new("plan.kdl", text), &plans::Inputs::default());
    let json = serde_json::to_value(checked.plan.unwrap()).unwrap();
    let schema = serde_json::to_value(schemars::schema_for!(Plan)).unwrap();
    for key in json.as_object().unwrap().keys() {
        assert!(schema["properties"].get(key).is_some(), "`{key}` is printed but not in the schema");
    }
}
