from helpers.contract_model import contract_model, make_model, model_onnx  # noqa: F401 (fixtures)
