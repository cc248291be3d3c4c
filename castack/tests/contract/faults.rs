//! Injected faults and validation errors as the AWS SDK sees them: error code,
//! modeled variant, message, `retry_after_seconds`, and the SDK's retry decisions.

use std::time::{Duration, Instant};

use aws_sdk_codeartifact::{
    Client,
    error::ProvideErrorMetadata,
    operation::get_authorization_token::GetAuthorizationTokenError,
    types::{PackageFormat, ResourceType, ValidationExceptionReason},
};
use castack::{Fault, UploadFailure};

use crate::support::*;

/// Calls `operation` with valid parameters and returns the error code and message.
async fn call(client: &Client, operation: &str) -> Result<(), (String, String)> {
    fn meta(err: &impl ProvideErrorMetadata) -> (String, String) {
        (err.code().unwrap_or("<none>").to_owned(), err.message().unwrap_or("<none>").to_owned())
    }
    let (d, r, f, p, v) = ("sandbox-domain", "sandbox-repo", PackageFormat::Pypi, "demo-pkg", "1.0.0");
    match operation {
        "GetAuthorizationToken" => {
            client.get_authorization_token().domain(d).send().await.map(drop).map_err(|e| meta(&e.into_service_error()))
        }
        "GetRepositoryEndpoint" => client
            .get_repository_endpoint()
            .domain(d)
            .repository(r)
            .format(f)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "ListPackageVersions" => client
            .list_package_versions()
            .domain(d)
            .repository(r)
            .format(f)
            .package(p)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "DescribePackageVersion" => client
            .describe_package_version()
            .domain(d)
            .repository(r)
            .format(f)
            .package(p)
            .package_version(v)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "ListPackageVersionAssets" => client
            .list_package_version_assets()
            .domain(d)
            .repository(r)
            .format(f)
            .package(p)
            .package_version(v)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "DescribePackage" => client
            .describe_package()
            .domain(d)
            .repository(r)
            .format(f)
            .package(p)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "DescribeRepository" => client
            .describe_repository()
            .domain(d)
            .repository(r)
            .send()
            .await
            .map(drop)
            .map_err(|e| meta(&e.into_service_error())),
        "DescribeDomain" => {
            client.describe_domain().domain(d).send().await.map(drop).map_err(|e| meta(&e.into_service_error()))
        }
        other => panic!("no such operation {other}"),
    }
}

const OPERATIONS: [&str; 8] = [
    "GetAuthorizationToken",
    "GetRepositoryEndpoint",
    "ListPackageVersions",
    "DescribePackageVersion",
    "ListPackageVersionAssets",
    "DescribePackage",
    "DescribeRepository",
    "DescribeDomain",
];

#[test]
fn every_operation_succeeds_and_can_be_denied() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        for op in OPERATIONS {
            call(&client, op).await.unwrap_or_else(|err| panic!("{op}: {err:?}"));
        }
        let arn = "arn:aws:codeartifact:us-east-1:111122223333";
        let principal = "arn:aws:sts::111122223333:assumed-role/ci-publisher/castack";
        for op in OPERATIONS {
            fx.emulator.inject(Fault::Deny { action: op.into(), principal: None }).unwrap();
            let (code, message) = call(&client, op).await.unwrap_err();
            assert_eq!(code, "AccessDeniedException", "{op}");
            let resource = match op {
                "GetAuthorizationToken" | "DescribeDomain" => format!("{arn}:domain/sandbox-domain"),
                "GetRepositoryEndpoint" | "DescribeRepository" => {
                    format!("{arn}:repository/sandbox-domain/sandbox-repo")
                }
                _ => format!("{arn}:package/sandbox-domain/sandbox-repo/pypi//demo-pkg"),
            };
            assert_eq!(
                message,
                format!(
                    "User: {principal} is not authorized to perform: codeartifact:{op} on resource: {resource} \
                     because no identity-based policy allows the codeartifact:{op} action"
                )
            );
            // Only that action is denied.
            let other = if op == "DescribeDomain" { "DescribeRepository" } else { "DescribeDomain" };
            call(&client, other).await.unwrap();
            fx.emulator.clear_faults();
        }
    });
}

#[test]
fn deny_variants() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let role = "arn:aws:sts::111122223333:assumed-role/other-role/sess";
        fx.emulator
            .inject(Fault::Deny { action: "GetAuthorizationToken".into(), principal: Some(role.into()) }.times(1))
            .unwrap();
        let err =
            client.get_authorization_token().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        assert!(matches!(err, GetAuthorizationTokenError::AccessDeniedException(_)), "{err:?}");
        assert!(err.message().unwrap().starts_with(&format!("User: {role} is not authorized")));
        // The count ran out.
        client.get_authorization_token().domain("sandbox-domain").send().await.unwrap();

        fx.emulator.expire_token().unwrap();
        fx.emulator.inject(Fault::DenyServiceBearerToken { principal: None }).unwrap();
        let err =
            client.get_authorization_token().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        assert!(matches!(err, GetAuthorizationTokenError::AccessDeniedException(_)), "{err:?}");
        assert!(err.message().unwrap().contains("is not authorized to perform: sts:GetServiceBearerToken"), "{err:?}");
        // No token was issued while denied; other operations are unaffected.
        assert!(fx.emulator.current_token().is_none());
        call(&client, "DescribeDomain").await.unwrap();
        assert_eq!(fx.emulator.faults().len(), 1);
    });
}

#[test]
fn not_found() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        fx.emulator.inject(Fault::DomainNotFound).unwrap();
        let err = client.get_authorization_token().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        match &err {
            GetAuthorizationTokenError::ResourceNotFoundException(e) => {
                assert_eq!(e.resource_id(), Some("sandbox-domain"));
                assert_eq!(e.resource_type(), Some(&ResourceType::Domain));
            }
            other => panic!("{other:?}"),
        }
        fx.emulator.clear_faults();

        fx.emulator.inject(Fault::RepositoryNotFound).unwrap();
        let err = client
            .get_repository_endpoint()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        match &err {
            aws_sdk_codeartifact::operation::get_repository_endpoint::GetRepositoryEndpointError::ResourceNotFoundException(e) => {
                assert_eq!(e.resource_id(), Some("sandbox-repo"));
                assert_eq!(e.resource_type(), Some(&ResourceType::Repository));
            }
            other => panic!("{other:?}"),
        }
        // The domain itself still exists.
        call(&client, "DescribeDomain").await.unwrap();
        fx.emulator.clear_faults();

        // Names the emulator does not serve.
        let err = client.describe_domain().domain("elsewhere").send().await.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let err =
            client.describe_repository().domain("sandbox-domain").repository("other").send().await.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        // Another format has no packages here.
        let err = client
            .describe_package()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Npm)
            .package("demo-pkg")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
    });
}

#[test]
fn throttling() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        fx.emulator.inject(Fault::Throttle { retry_after_seconds: 2 }.times(1)).unwrap();
        let err =
            client.get_authorization_token().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        match &err {
            GetAuthorizationTokenError::ThrottlingException(e) => {
                assert_eq!(e.retry_after_seconds(), Some(2));
                assert_eq!(e.message(), "Rate exceeded");
            }
            other => panic!("{other:?}"),
        }

        // Standard retries get through two throttled answers.
        let retrying = retrying_client(&fx.emulator, 3).await;
        fx.emulator.clear_requests();
        fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(2)).unwrap();
        let started = Instant::now();
        retrying.get_authorization_token().domain("sandbox-domain").send().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        let statuses: Vec<u16> = fx.emulator.requests().iter().map(|it| it.status).collect();
        assert_eq!(statuses, [429, 429, 200]);

        // Three throttled answers exhaust three attempts.
        fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(3)).unwrap();
        let err = retrying.describe_domain().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        assert_eq!(err.code(), Some("ThrottlingException"));
        assert!(fx.emulator.faults().is_empty());

        // Throttling only one operation.
        fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(5).only("DescribeRepository")).unwrap();
        call(&client, "DescribeDomain").await.unwrap();
        let (code, _) = call(&client, "DescribeRepository").await.unwrap_err();
        assert_eq!(code, "ThrottlingException");
        assert_eq!(fx.emulator.faults()[0].times, Some(4));
    });
}

#[test]
fn internal_errors_and_delays() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        fx.emulator.inject(Fault::InternalError.times(1)).unwrap();
        let err =
            client.get_authorization_token().domain("sandbox-domain").send().await.unwrap_err().into_service_error();
        assert!(matches!(err, GetAuthorizationTokenError::InternalServerException(_)), "{err:?}");

        let retrying = retrying_client(&fx.emulator, 3).await;
        fx.emulator.inject(Fault::InternalError.times(2)).unwrap();
        retrying.describe_domain().domain("sandbox-domain").send().await.unwrap();

        fx.emulator.inject(Fault::Slow { delay_ms: 400 }.times(1).only("DescribeDomain")).unwrap();
        let started = Instant::now();
        call(&client, "DescribeRepository").await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(400));
        let started = Instant::now();
        call(&client, "DescribeDomain").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert!(fx.emulator.faults().is_empty());
    });
}

#[test]
fn faults_are_bounded() {
    let fx = fixture();
    for fault in [Fault::Throttle { retry_after_seconds: 1 }, Fault::InternalError, Fault::Slow { delay_ms: 1 }] {
        let err = fx.emulator.inject(fault.always()).unwrap_err();
        assert!(format!("{err}").contains("needs a count"), "{err}");
    }
    assert!(fx.emulator.inject(Fault::Slow { delay_ms: castack::MAX_DELAY_MS + 1 }.times(1)).is_err());
    // A bare fault that waits or fails transiently hits once.
    fx.emulator.inject(Fault::InternalError).unwrap();
    assert_eq!(fx.emulator.faults()[0].times, Some(1));
    fx.emulator.inject(Fault::Upload { pass: 0, failure: UploadFailure::Reset }).unwrap();
    assert_eq!(fx.emulator.faults()[1].times, None);
}

#[test]
fn validation_errors() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let reason = |err: &aws_sdk_codeartifact::Error| -> Option<ValidationExceptionReason> {
            match err {
                aws_sdk_codeartifact::Error::ValidationException(e) => e.reason().cloned(),
                other => panic!("not a validation error: {other:?}"),
            }
        };
        let err: aws_sdk_codeartifact::Error =
            client.get_authorization_token().domain("Bad_Domain").send().await.unwrap_err().into();
        assert_eq!(reason(&err), Some(ValidationExceptionReason::FieldValidationFailed));
        assert!(err.message().unwrap().contains("at 'domain'"), "{err:?}");

        for seconds in [1, 899, 43_201, -5] {
            let err: aws_sdk_codeartifact::Error = client
                .get_authorization_token()
                .domain("sandbox-domain")
                .duration_seconds(seconds)
                .send()
                .await
                .unwrap_err()
                .into();
            assert_eq!(reason(&err), Some(ValidationExceptionReason::FieldValidationFailed), "{seconds}");
            assert!(err.message().unwrap().contains("durationSeconds"), "{err:?}");
        }

        let err: aws_sdk_codeartifact::Error =
            client.describe_domain().domain("sandbox-domain").domain_owner("12").send().await.unwrap_err().into();
        assert!(err.message().unwrap().contains("domainOwner"), "{err:?}");

        let err: aws_sdk_codeartifact::Error = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .max_results(0)
            .send()
            .await
            .unwrap_err()
            .into();
        assert!(err.message().unwrap().contains("maxResults"), "{err:?}");

        let err: aws_sdk_codeartifact::Error = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .next_token("not-ours")
            .send()
            .await
            .unwrap_err()
            .into();
        assert_eq!(reason(&err), Some(ValidationExceptionReason::FieldValidationFailed));

        let err: aws_sdk_codeartifact::Error = client
            .describe_package()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .namespace("ns")
            .package("demo-pkg")
            .send()
            .await
            .unwrap_err()
            .into();
        assert!(err.message().unwrap().contains("namespace"), "{err:?}");

        let err: aws_sdk_codeartifact::Error =
            client.describe_repository().domain("sandbox-domain").repository("-bad").send().await.unwrap_err().into();
        assert!(err.message().unwrap().contains("at 'repository'"), "{err:?}");
    });
}

#[test]
fn unknown_operation() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let err = client.list_domains().send().await.unwrap_err().into_service_error();
        assert_eq!(err.code(), Some("UnknownOperationException"), "{err:?}");
    });
    assert_eq!(fx.emulator.requests()[0].operation, "unknown");
    assert_eq!(fx.emulator.requests()[0].status, 404);
}

/// A request held back by a `Slow` fault meets the faults that were there when it
/// arrived, not one a test adds while it waits (a test's next case, after the
/// client gave up): otherwise what a case sees would depend on the timing of the
/// one before.
#[test]
fn a_slow_request_does_not_use_up_a_fault_added_while_it_waits() {
    let fx = fixture();
    fx.emulator.inject(Fault::Slow { delay_ms: 600 }.times(1).only("DescribeDomain")).unwrap();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true).status);
        std::thread::sleep(Duration::from_millis(200));
        fx.emulator.inject(Fault::Throttle { retry_after_seconds: 1 }.times(1).only("DescribeDomain")).unwrap();
        assert_eq!(slow.join().unwrap(), 200);
    });
    assert_eq!(raw(&fx.emulator, "GET", "/v1/domain?domain=sandbox-domain", true).status, 429);
    assert!(fx.emulator.faults().is_empty());
}
