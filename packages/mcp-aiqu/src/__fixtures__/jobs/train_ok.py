# A training job that logs progress, reports its MLflow run id and succeeds.
import os
import sys

print(f"job {os.environ['NIGHTSHIFT_JOB_ID']} name {os.environ['NIGHTSHIFT_JOB_NAME']} attempt {os.environ['NIGHTSHIFT_JOB_ATTEMPT']}")
print(f"args {' '.join(sys.argv[1:])}")
print(f"epochs param {os.environ.get('NIGHTSHIFT_PARAM_EPOCHS', '-')}")
print(f"config {os.environ.get('NIGHTSHIFT_CONFIG_REPO', '-')}:{os.environ.get('NIGHTSHIFT_CONFIG_PATH', '-')}")
print(f"events url {os.environ.get('NIGHTSHIFT_EVENTS_URL', '-')}")
print(f"events secret set {'yes' if os.environ.get('NIGHTSHIFT_EVENTS_SECRET') else 'no'}")
print(f"server token leaked {'yes' if os.environ.get('NIGHTSHIFT_MCP_HTTP_TOKEN') else 'no'}")
print("mlflow_run_id=0123456789abcdef0123456789abcdef")
for epoch in range(3):
    print(f"epoch {epoch} loss {1.0 / (epoch + 1):.3f}")
print("done")
