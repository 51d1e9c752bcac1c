//! Splits an image reference into repository, tag and digest, the way the
//! `container.image.repository` and `container.image.tag` fields want it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// `[registry[:port]/]path[:tag][@digest]`. A ':' only starts a tag when
    /// it comes after the last '/', so registry ports stay in the repository.
    /// With neither tag nor digest the tag is `latest`, as the runtime
    /// resolves it.
    pub fn parse(image: &str) -> Self {
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string()).filter(|d| !d.is_empty())),
            None => (image, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (
                    &name[..i],
                    Some(name[i + 1..].to_string()).filter(|t| !t.is_empty()),
                )
            }
            None => (name, None),
        };
        let tag = match (tag, &digest) {
            (None, None) if !repository.is_empty() => Some("latest".to_string()),
            (t, _) => t,
        };
        Self {
            repository: repository.to_string(),
            tag,
            digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs_table() {
        const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases: Vec<(String, &str, Option<&str>, Option<&str>)> = vec![
            ("nginx".into(), "nginx", Some("latest"), None),
            ("nginx:1.25".into(), "nginx", Some("1.25"), None),
            (
                "docker.io/library/nginx:1.25".into(),
                "docker.io/library/nginx",
                Some("1.25"),
                None,
            ),
            (
                "localhost/saker-test:1".into(),
                "localhost/saker-test",
                Some("1"),
                None,
            ),
            (
                "localhost:5000/team/app".into(),
                "localhost:5000/team/app",
                Some("latest"),
                None,
            ),
            (
                "localhost:5000/team/app:v2".into(),
                "localhost:5000/team/app",
                Some("v2"),
                None,
            ),
            (
                format!("quay.io:443/a/b@{D}"),
                "quay.io:443/a/b",
                None,
                Some(D),
            ),
            (
                format!("quay.io:443/a/b:7@{D}"),
                "quay.io:443/a/b",
                Some("7"),
                Some(D),
            ),
            (
                "registry:5000/x:".into(),
                "registry:5000/x",
                Some("latest"),
                None,
            ),
            ("".into(), "", None, None),
            ("@".into(), "", None, None),
            (":::".into(), "::", Some("latest"), None),
        ];
        for (img, repo, tag, digest) in cases {
            let r = ImageRef::parse(&img);
            assert_eq!(r.repository, repo, "{img}");
            assert_eq!(r.tag.as_deref(), tag, "{img}");
            assert_eq!(r.digest.as_deref(), digest, "{img}");
        }
    }
}
