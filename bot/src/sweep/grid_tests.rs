use serde_json::json;

use super::grid::{ParamSpec, expand, label, sample};

#[test]
fn lists_and_ranges_parse_into_values() {
    let p: ParamSpec = "smaCrossover.fast=5:20:5".parse().unwrap();
    assert_eq!(p.path, "smaCrossover.fast");
    assert_eq!(p.values, vec![json!(5), json!(10), json!(15), json!(20)]);
    let p: ParamSpec = "bollingerReversion.stdDevs=1.5,2,2.5".parse().unwrap();
    assert_eq!(p.values, vec![json!(1.5), json!(2), json!(2.5)]);
    let p: ParamSpec = "x=0.1:0.3:0.1".parse().unwrap();
    assert_eq!(p.values, vec![json!(0.1), json!(0.2), json!(0.3)]);
}

#[test]
fn bad_params_say_how_to_write_them() {
    for bad in ["fast", "=1,2", "fast=1:x", "fast=5:1", "fast=1:5:0"] {
        let e = bad.parse::<ParamSpec>().unwrap_err();
        assert!(e.starts_with(&format!("--param {bad}:")), "{e}");
        assert!(e.contains("smaCrossover.fast=5,10,20"), "{e}");
    }
}

#[test]
fn the_grid_is_the_cartesian_product_in_order() {
    let specs: Vec<ParamSpec> = vec![
        "a.fast=1,2".parse().unwrap(),
        "a.slow=10,20,30".parse().unwrap(),
    ];
    let grid = expand(&specs);
    assert_eq!(grid.len(), 6);
    let labels: Vec<String> = grid.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "fast=1 slow=10",
            "fast=1 slow=20",
            "fast=1 slow=30",
            "fast=2 slow=10",
            "fast=2 slow=20",
            "fast=2 slow=30"
        ]
    );
    assert!(expand(&[]).is_empty());
}

#[test]
fn a_random_sample_is_distinct_seeded_and_in_grid_order() {
    let specs: Vec<ParamSpec> = vec!["a.x=1:100".parse().unwrap(), "a.y=1:10".parse().unwrap()];
    let grid = expand(&specs);
    let s1 = sample(grid.clone(), 50, 7);
    assert_eq!(s1, sample(grid.clone(), 50, 7), "same seed, same sample");
    assert_ne!(s1, sample(grid.clone(), 50, 8));
    assert_eq!(s1.len(), 50);
    let positions: Vec<usize> = s1
        .iter()
        .map(|s| grid.iter().position(|g| g == s).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "distinct, grid order"
    );
    assert_eq!(sample(grid.clone(), 5_000, 1).len(), grid.len());
}
