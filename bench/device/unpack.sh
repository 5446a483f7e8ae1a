# Sourced by the device scripts: unpack what bench/device/pack_sst2.py put in .gpu/ into $G (libraries,
# GLUE SST-2/MRPC/RTE, the packed MiniLM), put the libraries and the project on PYTHONPATH, show the GPU.
# Expects G, OUT and DEVICE set.
rm -rf "$G" && mkdir -p "$G" "$OUT"
tar -xJf .gpu/site.tar.xz -C "$G"
tar -xJf .gpu/glue.tar.xz -C "$G"
cp -r .gpu/model "$G/model" && xz -d "$G/model/model.safetensors.xz"
export PYTHONPATH="$G/site:$PWD/src" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || [ "$DEVICE" = cpu ]
