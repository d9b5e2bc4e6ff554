// Shared by the CRD-schema validators (istio_models.mjs, argo_rollouts_models.mjs): a
// @kubernetes-models model's validation errors for one manifest, as `<path>: <what>` lines.
export function modelErrors(Model, manifest) {
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    if (!Array.isArray(error.errors)) throw error;
    return error.errors.map((e) => {
      const allowed = e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : "";
      return `${e.instancePath || "(root)"}: ${e.message}${allowed}`;
    });
  }
}
