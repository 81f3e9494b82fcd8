//! S3 settings from the AWS shared files, as the AWS CLI and SDKs read them: credentials from
//! `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`), region and endpoint from
//! `~/.aws/config` (or `AWS_CONFIG_FILE`), for the profile `AWS_PROFILE` (else `default`).
//!
//! Precedence, as in the SDKs: an environment variable wins over the credentials file, which
//! wins over the config file. A profile named by `AWS_PROFILE` that neither file has is an
//! error; without `AWS_PROFILE`, missing files or a missing `default` profile mean nothing is
//! taken from the files.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The settings of one profile; `None` where the files say nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsProfile {
    /// `aws_access_key_id`.
    pub access_key_id: Option<String>,
    /// `aws_secret_access_key`.
    pub secret_access_key: Option<String>,
    /// `aws_session_token`.
    pub session_token: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `endpoint_url` (an S3-compatible server).
    pub endpoint_url: Option<String>,
}

/// The sections of an INI file: `[name]` → key → value. Comments start with `#` or `;`.
type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// Parses the INI text of `file` (named in errors with the line number).
fn parse_ini(file: &Path, text: &str) -> Result<Sections> {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let at = || format!("{}:{}", file.display(), index + 1);
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| Error::Config(format!("{}: a section header must end with ']'", at())))?;
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        // Nested settings (`s3 =` followed by indented lines) belong to service sections we
        // do not read; their indented lines are skipped.
        if raw.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::Config(format!(
                "{}: expected 'key = value' or '[section]'",
                at()
            )));
        };
        let Some(section) = current.as_ref() else {
            return Err(Error::Config(format!("{}: a setting before any [section]", at())));
        };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Ok(sections)
}

impl AwsProfile {
    /// The profile `name` from the texts of the credentials and config files (either may be
    /// absent); `None` if neither has it. In the config file, a profile other than `default`
    /// is the section `[profile NAME]`.
    pub fn from_files(
        credentials: Option<(&Path, &str)>,
        config: Option<(&Path, &str)>,
        name: &str,
    ) -> Result<Option<Self>> {
        let from_credentials = match credentials {
            Some((file, text)) => parse_ini(file, text)?.remove(name),
            None => None,
        };
        let config_section = if name == "default" {
            "default".to_string()
        } else {
            format!("profile {name}")
        };
        let from_config = match config {
            Some((file, text)) => {
                let mut sections = parse_ini(file, text)?;
                // Some files name the default profile `[profile default]`.
                sections
                    .remove(&config_section)
                    .or_else(|| sections.remove(&format!("profile {name}")))
            }
            None => None,
        };
        if from_credentials.is_none() && from_config.is_none() {
            return Ok(None);
        }
        let (credentials, config) = (from_credentials.unwrap_or_default(), from_config.unwrap_or_default());
        let get = |key: &str| {
            credentials
                .get(key)
                .or_else(|| config.get(key))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        Ok(Some(Self {
            access_key_id: get("aws_access_key_id"),
            secret_access_key: get("aws_secret_access_key"),
            session_token: get("aws_session_token"),
            region: get("region"),
            endpoint_url: get("endpoint_url"),
        }))
    }

    /// Reads the profile the environment `env` selects from the files it names (or the
    /// defaults under `home`).
    pub fn load(env: impl Fn(&str) -> Option<String>, home: Option<PathBuf>) -> Result<Option<Self>> {
        let named = env("AWS_PROFILE").filter(|p| !p.is_empty());
        let name = named.clone().unwrap_or_else(|| "default".to_string());
        let file = |var: &str, default: &str| -> Option<PathBuf> {
            env(var)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let read = |path: Option<PathBuf>| -> Result<Option<(PathBuf, String)>> {
            let Some(path) = path else { return Ok(None) };
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some((path, text))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
            }
        };
        let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let config_file = file("AWS_CONFIG_FILE", "config");
        let credentials = read(credentials_file.clone())?;
        let config = read(config_file.clone())?;
        let profile = Self::from_files(
            credentials.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
            config.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
            &name,
        )?;
        if profile.is_none() && named.is_some() {
            let shown = |f: Option<PathBuf>| f.map_or("(none)".to_string(), |p| p.display().to_string());
            return Err(Error::Config(format!(
                "AWS_PROFILE names profile '{name}', which neither {} nor {} has",
                shown(credentials_file),
                shown(config_file)
            )));
        }
        Ok(profile)
    }

    /// The settings to apply as `(environment variable it stands for, value)`, leaving out
    /// those whose variable `is_set` (the environment wins).
    pub fn unset_settings(&self, is_set: impl Fn(&str) -> bool) -> Vec<(&'static str, String)> {
        [
            ("AWS_ACCESS_KEY_ID", &self.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
            ("AWS_SESSION_TOKEN", &self.session_token),
            ("AWS_REGION", &self.region),
            ("AWS_ENDPOINT", &self.endpoint_url),
        ]
        .into_iter()
        .filter_map(|(var, value)| value.clone().filter(|_| !is_set(var)).map(|v| (var, v)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "
# comment
[default]
aws_access_key_id = AKIDEFAULT
aws_secret_access_key = secret-default

[ci]
aws_access_key_id=AKICI
aws_secret_access_key=secret-ci
aws_session_token = token-ci
";

    const CONFIG: &str = "
[default]
region = eu-west-1

[profile ci]
region = us-east-2
endpoint_url = http://127.0.0.1:9000
s3 =
    addressing_style = path
";

    /// A file's name and text.
    type File = Option<(&'static Path, &'static str)>;

    fn files() -> (File, File) {
        (
            Some((Path::new("credentials"), CREDENTIALS)),
            Some((Path::new("config"), CONFIG)),
        )
    }

    #[test]
    fn a_profile_merges_both_files() {
        let (credentials, config) = files();
        let ci = AwsProfile::from_files(credentials, config, "ci").unwrap().unwrap();
        assert_eq!(
            ci,
            AwsProfile {
                access_key_id: Some("AKICI".into()),
                secret_access_key: Some("secret-ci".into()),
                session_token: Some("token-ci".into()),
                region: Some("us-east-2".into()),
                endpoint_url: Some("http://127.0.0.1:9000".into()),
            }
        );
        let default = AwsProfile::from_files(credentials, config, "default").unwrap().unwrap();
        assert_eq!(default.access_key_id.as_deref(), Some("AKIDEFAULT"));
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        assert_eq!(AwsProfile::from_files(credentials, config, "nobody").unwrap(), None);
    }

    #[test]
    fn the_environment_wins_over_the_files() {
        let (credentials, config) = files();
        let ci = AwsProfile::from_files(credentials, config, "ci").unwrap().unwrap();
        let settings = ci.unset_settings(|var| var == "AWS_REGION" || var == "AWS_SESSION_TOKEN");
        let vars: Vec<&str> = settings.iter().map(|(v, _)| *v).collect();
        assert_eq!(vars, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT"]);
    }

    #[test]
    fn bad_lines_are_named_with_file_and_line() {
        let err = AwsProfile::from_files(Some((Path::new("/x/credentials"), "[a]\nnot a setting\n")), None, "a")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/x/credentials:2"), "{err}");
        let err = AwsProfile::from_files(Some((Path::new("c"), "k = v\n")), None, "a")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c:1: a setting before any [section]"), "{err}");
    }

    #[test]
    fn load_reads_the_files_the_environment_names() {
        let dir = std::env::temp_dir().join(format!("freshet-aws-profile-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws/credentials"), CREDENTIALS).unwrap();
        std::fs::write(dir.join("other-config"), CONFIG).unwrap();
        let env = |profile: Option<&'static str>| {
            let config = dir.join("other-config").display().to_string();
            move |var: &str| match var {
                "AWS_PROFILE" => profile.map(str::to_string),
                "AWS_CONFIG_FILE" => Some(config.clone()),
                _ => None,
            }
        };
        let ci = AwsProfile::load(env(Some("ci")), Some(dir.clone())).unwrap().unwrap();
        assert_eq!(ci.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        let default = AwsProfile::load(env(None), Some(dir.clone())).unwrap().unwrap();
        assert_eq!(default.access_key_id.as_deref(), Some("AKIDEFAULT"));
        let err = AwsProfile::load(env(Some("nobody")), Some(dir.clone()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("profile 'nobody'"), "{err}");
        let nothing = AwsProfile::load(|_| None, Some(dir.join("no-home"))).unwrap();
        assert_eq!(nothing, None, "no files, no AWS_PROFILE: nothing from the files");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
