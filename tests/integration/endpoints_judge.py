#!/usr/bin/python3
"""botocore's endpoint resolution, the judge of eic's (tests/integration/test_endpoints.sh).

  endpoints_judge.py table
      the rule-set URL of each service, region, FIPS and dual-stack case of the table in
      tests/data/endpoints.tsv, as botocore's EndpointProvider resolves it ("ERROR" when it
      refuses): the file is what this prints.
  endpoints_judge.py url SERVICE REGION [ENDPOINT_URL]
      the URL a botocore client of SERVICE gets in this environment (AWS_* variables, the
      AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE files), with --endpoint-url ENDPOINT_URL
      when given; "ERROR: message" when botocore refuses the configuration."""
import sys

import botocore.loaders
import botocore.session
from botocore.endpoint_provider import EndpointProvider

SERVICES = ["ec2", "ec2-instance-connect", "sts", "sso", "sso-oidc"]
# One or more regions of each partition, the partitions' listed pseudo-regions, regions that only
# the expressions match, and one that none does (the first partition's).
REGIONS = ["us-east-1", "eu-west-3", "il-central-1", "mx-central-1", "ap-southeast-7", "aws-global",
           "cn-north-1", "cn-northwest-1", "aws-cn-global", "us-gov-west-1", "us-gov-east-1",
           "aws-us-gov-global", "us-iso-east-1", "us-iso-west-9", "us-isob-east-1", "eu-isoe-west-1",
           "us-isof-south-1", "us-isof-east-1", "eusc-de-east-1", "eusc-de-west-9", "xx-foo-1", "local"]


def table():
    loader = botocore.loaders.create_loader()
    partitions = loader.load_data("partitions")
    for service in SERVICES:
        provider = EndpointProvider(loader.load_service_model(service, "endpoint-rule-set-1"), partitions)
        for region in REGIONS:
            for fips in (False, True):
                for dual in (False, True):
                    try:
                        url = provider.resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dual).url
                    except Exception:  # the rule set's error rules
                        url = "ERROR"
                    print("\t".join([service, region, str(fips).lower(), str(dual).lower(), url]))


# An operation of each service eic calls: the endpoint is resolved per request.
OPERATIONS = {"ec2": "DescribeInstances", "ec2-instance-connect": "SendSSHPublicKey", "sts": "AssumeRole",
              "sso": "GetRoleCredentials", "sso-oidc": "CreateToken"}


def url(service, region, endpoint_url=None):
    """The URL the client's requests go to: its rule-set resolver's answer, not client.meta.endpoint_url
    (the older endpoints.json's, which differs for sso and sso-oidc with FIPS in aws-us-gov)."""
    try:
        client = botocore.session.Session().create_client(
            service, region_name=region, endpoint_url=endpoint_url, aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret")
        operation = client.meta.service_model.operation_model(OPERATIONS[service])
        print(client._ruleset_resolver.construct_endpoint(operation, {}, {}).url)
    except Exception as e:
        print("ERROR: %s" % e)


if sys.argv[1] == "table":
    table()
else:
    url(*sys.argv[2:])
