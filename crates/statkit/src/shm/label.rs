//! Labels: a metric's name and tags in one string, `name` or
//! `name{key=value,key=value}`, which is what files and readers key on.

use statkit_format::layout::NAME_MAX;

use super::RegisterError;

/// Builds and checks the label for `name` with `tags` (in the order given).
pub(super) fn label(name: &str, tags: &[(&str, &str)]) -> Result<String, RegisterError> {
    let mut label = String::with_capacity(name.len() + 16);
    label.push_str(name);
    if !tags.is_empty() {
        label.push('{');
        for (index, (key, value)) in tags.iter().enumerate() {
            if index > 0 {
                label.push(',');
            }
            label.push_str(key);
            label.push('=');
            label.push_str(value);
        }
        label.push('}');
    }
    let invalid = |reason| RegisterError::InvalidName {
        label: label.clone(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.contains(['{', '}']) {
        return Err(invalid("names cannot hold '{' or '}'"));
    }
    let parts = tags.iter().flat_map(|(k, v)| [*k, *v]);
    if parts
        .clone()
        .any(|part| part.contains(['{', '}', '=', ',']))
    {
        return Err(invalid("tags cannot hold '{', '}', '=' or ','"));
    }
    if tags.iter().any(|(key, _)| key.is_empty()) {
        return Err(invalid("a tag key is empty"));
    }
    if label.chars().any(char::is_control) {
        return Err(invalid("labels cannot hold control characters"));
    }
    if label.len() > NAME_MAX {
        return Err(RegisterError::TooLong {
            len: label.len(),
            label,
            max: NAME_MAX,
        });
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_name_in_braces() {
        assert_eq!(label("hits", &[]).unwrap(), "hits");
        assert_eq!(
            label("hits", &[("code", "200"), ("m", "GET")]).unwrap(),
            "hits{code=200,m=GET}"
        );
    }

    #[test]
    fn bad_labels_are_refused() {
        assert!(matches!(
            label("", &[]),
            Err(RegisterError::InvalidName { .. })
        ));
        assert!(matches!(
            label("a{", &[]),
            Err(RegisterError::InvalidName { .. })
        ));
        assert!(matches!(
            label("a", &[("k", "v,w")]),
            Err(RegisterError::InvalidName { .. })
        ));
        assert!(matches!(
            label("a\n", &[]),
            Err(RegisterError::InvalidName { .. })
        ));
        let long = "x".repeat(NAME_MAX + 1);
        assert!(matches!(
            label(&long, &[]),
            Err(RegisterError::TooLong { .. })
        ));
        assert!(label(&long[1..], &[]).is_ok());
    }
}
