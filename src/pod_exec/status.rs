//! The status channel (3): a `Status` object when the command ends. Success is exit 0; a
//! non-zero exit is `reason: NonZeroExitCode` with a cause `ExitCode` whose message is the code;
//! anything else is an exec failure (for example, the binary could not be started).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Failed(String),
}

pub fn outcome(status: &Status) -> Outcome {
    if status.status.as_deref() == Some("Success") {
        return Outcome::Exited(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref())
            .and_then(|m| m.trim().parse::<i32>().ok());
        if let Some(code) = code {
            return Outcome::Exited(code);
        }
    }
    Outcome::Failed(status.message.clone().unwrap_or_else(|| {
        let field = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        format!("status {}, reason {}", field(&status.status), field(&status.reason))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Outcome {
        outcome(&serde_json::from_str(json).expect("status json"))
    }

    #[test]
    fn success_nonzero_and_failure() {
        assert_eq!(parse(r#"{"metadata":{},"status":"Success"}"#), Outcome::Exited(0));
        assert_eq!(
            parse(
                r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#
            ),
            Outcome::Exited(3)
        );
        assert_eq!(
            parse(r#"{"metadata":{},"status":"Failure","message":"executable file not found"}"#),
            Outcome::Failed("executable file not found".into())
        );
        assert!(matches!(
            parse(r#"{"status":"Failure","reason":"NonZeroExitCode","message":"m","details":{"causes":[]}}"#),
            Outcome::Failed(_)
        ));
    }
}
