//! Writing the output file (spec §3 step 8, D10, D46): refuse to replace without
//! `--force`, create parent directories, write atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// Writes `text` to `path` atomically: a temporary file in the same directory, renamed
/// over the target, removed on any failure. An existing file is an error unless `force`.
/// Parent directories are created.
pub fn write_output(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(Error::OutputIsDirectory { path: path.to_owned() });
        }
        Ok(_) if path.is_dir() => return Err(Error::OutputIsDirectory { path: path.to_owned() }),
        Ok(_) if !force => return Err(Error::OutputExists { path: path.to_owned() }),
        _ => {}
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|e| Error::io("create the directory", parent, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io("create a temporary file in", parent, e))?;
        file.write_all(text.as_bytes()).map_err(|e| Error::io("write", &temp, e))?;
        file.sync_all().map_err(|e| Error::io("write", &temp, e))?;
        drop(file);
        fs::rename(&temp, path).map_err(|e| Error::io("write", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
