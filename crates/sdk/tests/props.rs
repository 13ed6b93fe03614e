//! Property tests of the on-disk layout: distinct ids never share a directory, and a
//! directory name is one path component.

use llmobs_core::encoding::{decode_path_segment, path_segment};
use proptest::prelude::*;

proptest! {
    #[test]
    fn distinct_ids_get_distinct_directories(a in "\\PC{0,12}", b in "\\PC{0,12}") {
        prop_assume!(a != b);
        prop_assert_ne!(path_segment(&a), path_segment(&b));
    }

    #[test]
    fn a_directory_name_is_one_component(id in "\\PC{1,16}") {
        let name = path_segment(&id);
        let path = std::path::Path::new(&name);
        prop_assert_eq!(path.components().count(), 1);
        prop_assert!(!name.contains('/') && !name.contains('\\'));
        prop_assert_eq!(decode_path_segment(&name), Some(id));
    }
}
