//! Prints the Botfleet CRDs as multi-document YAML, or writes one file per
//! CRD with `--out-dir DIR` (the Helm chart keeps them in
//! `charts/botfleet/crds/`).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: crdgen [--out-dir DIR]
  (no arguments)   print the three CRDs to stdout as multi-document YAML
  --out-dir DIR    write one file per CRD into DIR (e.g. charts/botfleet/crds)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            print!("{}", botfleet_crds::crds_yaml());
            ExitCode::SUCCESS
        }
        ["--out-dir", dir] => match write_files(PathBuf::from(dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("crdgen: {e}");
                ExitCode::FAILURE
            }
        },
        ["-h" | "--help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn write_files(dir: PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(&dir)?;
    for (name, yaml) in botfleet_crds::crd_files() {
        let path = dir.join(name);
        std::fs::write(&path, yaml)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
